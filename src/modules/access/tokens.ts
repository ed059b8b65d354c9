import { z } from 'zod';
import { deriveKey, type Keyring, open, seal } from '../../lib/crypto/index.js';

/**
 * Contact tokens: the telemarketer dials a token, never the number. A token is sealed
 * (AES-256-GCM under a key derived from the keyring) and names the subject, the field, the actor it
 * was issued to, the purpose and an expiry, so it is useless outside Custodian, cannot be forged or
 * altered, and needs no table. Only the telephony or mail integration (a service actor with the
 * `contact` purpose) can resolve one, and every resolution is an access event.
 */
export const TOKEN_PREFIX = 'ctt_';
const AAD = new TextEncoder().encode('custodian/contact-token/v1');

/** Every claim type-checked when a token is opened: a token is authentic, but old versions may differ. */
const ClaimsSchema = z
  .object({
    /** subject id */
    s: z.string().min(1).max(128),
    /** field */
    f: z.string().min(1).max(128),
    /** actor the token was issued to */
    a: z.string().min(1).max(128),
    /** purpose of the read that issued it */
    p: z.string().min(1).max(128),
    /** expiry, epoch seconds */
    e: z.number().int().nonnegative(),
  })
  .strict();

export type ContactTokenClaims = z.infer<typeof ClaimsSchema>;

export function createTokenSealer(keyring: Keyring) {
  const key = deriveKey(keyring, 'contact-token/v1');
  return {
    issue(claims: ContactTokenClaims): string {
      return TOKEN_PREFIX + seal(key, Buffer.from(JSON.stringify(claims)), AAD).toString('base64url');
    },
    /** The claims of a well-formed, authentic token, or undefined. Expiry is the caller's check. */
    open(token: string): ContactTokenClaims | undefined {
      if (!token.startsWith(TOKEN_PREFIX) || token.length > 512) return undefined;
      try {
        const c = ClaimsSchema.safeParse(
          JSON.parse(
            open(key, Buffer.from(token.slice(TOKEN_PREFIX.length), 'base64url'), AAD).toString('utf8'),
          ),
        );
        return c.success ? c.data : undefined;
      } catch {
        return undefined;
      }
    },
  };
}
