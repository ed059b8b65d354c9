import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ed25519PublicKeyFromRaw, ed25519Verify } from '../../lib/crypto/index.js';
import type { DeletionNoticeSender } from './notices.service.js';

/**
 * Ways to hand deletion notices to recipients (outside systems). The body is canonical JSON with
 * ids only; the signature (Ed25519 over the body's bytes) lets the recipient check it came from the
 * organisation: `X-Custodian-Signature: ed25519=<base64>`, key in `X-Custodian-Key`.
 */
export function webhookSender(fetchFn: typeof fetch = fetch, timeoutMs = 10_000): DeletionNoticeSender {
  return async (n) => {
    if (!n.webhookUrl) throw Object.assign(new Error('no webhook'), { name: 'NoWebhook' });
    const res = await fetchFn(n.webhookUrl, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-custodian-signature': `ed25519=${n.signature}`,
        'x-custodian-key': n.publicKey,
        'x-custodian-notice': n.id,
      },
      body: n.body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!res.ok) throw Object.assign(new Error(`HTTP ${res.status}`), { name: `Http${res.status}` });
  };
}

/** Writes each notice to DIR/<recipient>/<notice>.json (body, signature, key) for hand delivery. */
export function fileSender(dir: string): DeletionNoticeSender {
  return async (n) => {
    const d = join(dir, n.recipientId);
    mkdirSync(d, { recursive: true, mode: 0o700 });
    writeFileSync(
      join(d, `${n.id}.json`),
      `${JSON.stringify({ body: n.body, signature: n.signature, publicKey: n.publicKey }, null, 2)}\n`,
      { mode: 0o600 },
    );
  };
}

/** What a recipient runs on a notice it received: true when the body is signed by `publicKey`. */
export function verifyDeletionNotice(body: string, signature: string, publicKey: string): boolean {
  const raw = Buffer.from(publicKey, 'base64');
  if (raw.length !== 32) return false;
  return ed25519Verify(
    ed25519PublicKeyFromRaw(raw),
    Buffer.from(body, 'utf8'),
    Buffer.from(signature, 'base64'),
  );
}
