/**
 * Threat: a customer or auditor is told a genuine checkpoint cannot be checked (or, worse, learns
 * to ignore a red "invalid") because the browser's verifier misreads the log's key. The verifier
 * key's base64 may contain '+', the same character that separates its fields; the browser code
 * must read it as the server does. The browser's verifier (web/src/lib/verify.ts) runs here in
 * Node's WebCrypto against notes the server's signer made.
 */
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { leafHash } from '../../src/modules/ledger/merkle.js';
import { checkpointBody, formatVkey, signNote } from '../../src/modules/ledger/note.js';
import { parseCheckpoint, verifyCheckpoint } from '../../web/src/lib/verify.js';

function keypair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, raw: Buffer.from(spki.subarray(spki.length - 32)) };
}

/** A key whose verifier string holds '+' inside its base64 (about half of all keys do). */
function keyWithPlus() {
  for (;;) {
    const k = keypair();
    const vkey = formatVkey('custodian.test/log', k.raw);
    if (vkey.split('+').length > 3) return { ...k, vkey };
  }
}

describe('browser checkpoint verification', () => {
  it("accepts the log's signature when its key's base64 contains '+', and rejects another key", async () => {
    const log = keyWithPlus();
    const body = checkpointBody('custodian.test/log', 3, leafHash(Buffer.from('x')));
    const note = signNote(body, 'custodian.test/log', log.privateKey, log.raw);
    expect(await verifyCheckpoint(parseCheckpoint(note), log.vkey)).toBe('valid');
    const other = keyWithPlus();
    expect(await verifyCheckpoint(parseCheckpoint(note), other.vkey)).toBe('invalid');
    expect(await verifyCheckpoint(parseCheckpoint(note), 'not a key')).toBe('invalid');
  });

  it('rejects a note whose body was changed after signing', async () => {
    const log = keyWithPlus();
    const note = signNote(
      checkpointBody('custodian.test/log', 3, leafHash(Buffer.from('x'))),
      'custodian.test/log',
      log.privateKey,
      log.raw,
    );
    const forged = note.replace('\n3\n', '\n4\n');
    expect(await verifyCheckpoint(parseCheckpoint(forged), log.vkey)).toBe('invalid');
  });
});
