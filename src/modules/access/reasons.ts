import { deriveKey, type Keyring, open, seal } from '../../lib/crypto/index.js';

/**
 * Break-glass reasons are free text an actor types ("customer 张伟 called about …"), so they may
 * hold personal information. Alerts keep them sealed (AES-256-GCM under a key derived from the
 * keyring, bound to the actor and subject) with their length in clear: the privacy team's review
 * opens them through the access module (`openBreakGlassReason`); a database dump or an alert
 * export shows neither the text nor a hash that a guess could be checked against.
 */
const INFO = 'break-glass-reason/v1';

function aad(actor: string, subject: string): Uint8Array {
  return new TextEncoder().encode(`custodian/${INFO}\0${actor}\0${subject}`);
}

export function createReasonSealer(keyring: Keyring) {
  const key = deriveKey(keyring, INFO);
  return {
    seal(actor: string, subject: string, reason: string): string {
      return seal(key, Buffer.from(reason, 'utf8'), aad(actor, subject)).toString('base64url');
    },
    /** The reason, or undefined when the sealed text is not authentic for this actor and subject. */
    open(actor: string, subject: string, sealed: string): string | undefined {
      try {
        return open(key, Buffer.from(sealed, 'base64url'), aad(actor, subject)).toString('utf8');
      } catch {
        return undefined;
      }
    },
  };
}
