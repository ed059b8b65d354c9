import { createPrivateKey, generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/errors.js';
import { leafHash, rootFromEntries } from './merkle.js';
import {
  checkpointBody,
  formatVkey,
  parseCheckpoint,
  parseVkey,
  signNote,
  verifyCheckpoint,
} from './note.js';

function code(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return isAppError(e) ? e.code : 'other';
  }
  return undefined;
}

function keypair() {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519');
  const spki = publicKey.export({ format: 'der', type: 'spki' });
  return { privateKey, raw: Buffer.from(spki.subarray(spki.length - 32)) };
}

describe('signed notes (C2SP signed-note, golang.org/x/mod/sumdb/note)', () => {
  // Known answer: the example key and note from the golang.org/x/mod/sumdb/note documentation.
  const GO_VKEY = 'PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW';
  const GO_SEED = Buffer.from('AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz', 'base64').subarray(1);
  const GO_TEXT =
    "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
  const GO_SIG =
    '\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n';

  it('reproduces the Go note package example byte for byte', () => {
    const v = parseVkey(GO_VKEY);
    expect(v.name).toBe('PeterNeumann');
    expect(v.keyHash).toBe(0xc74f20a3);
    expect(formatVkey('PeterNeumann', v.publicKeyRaw)).toBe(GO_VKEY);
    const key = createPrivateKey({
      key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), GO_SEED]),
      format: 'der',
      type: 'pkcs8',
    });
    expect(signNote(GO_TEXT, 'PeterNeumann', key, v.publicKeyRaw)).toBe(`${GO_TEXT}\n${GO_SIG}`);
  });

  it('signs checkpoints that verify, and refuses every alteration', () => {
    const { privateKey, raw } = keypair();
    const origin = 'custodian.example/ledger';
    const root = rootFromEntries([Buffer.from('a'), Buffer.from('b'), Buffer.from('c')]);
    const note = signNote(checkpointBody(origin, 3, root), origin, privateKey, raw);
    expect(note.split('\n').slice(0, 4)).toEqual([origin, '3', root.toString('base64'), '']);
    const v = parseVkey(formatVkey(origin, raw));
    const cp = verifyCheckpoint(note, v, origin);
    expect(cp).toMatchObject({ origin, size: 3 });
    expect(cp.root.equals(root)).toBe(true);

    const other = keypair();
    const alterations = [
      note.replace('\n3\n', '\n4\n'),
      note.replace(root.toString('base64'), leafHash(Buffer.from('x')).toString('base64')),
      note.replace(origin, 'someone.else/log'),
      note.slice(0, -2) + (note.at(-2) === 'A' ? 'B' : 'A') + '\n',
      checkpointBody(origin, 3, root),
      signNote(checkpointBody(origin, 3, root), origin, other.privateKey, other.raw),
    ];
    for (const a of alterations)
      expect(code(() => verifyCheckpoint(a, v, origin))).toBe('LEDGER_CHECKPOINT_INVALID');
    expect(code(() => verifyCheckpoint(note, v, 'another/origin'))).toBe('LEDGER_CHECKPOINT_INVALID');
  });

  it('ignores extra signatures (witness cosignatures) but needs the log one', () => {
    const log = keypair();
    const witness = keypair();
    const origin = 'log.example';
    const body = checkpointBody(origin, 1, leafHash(Buffer.from('x')));
    const logSigned = signNote(body, origin, log.privateKey, log.raw);
    const witnessLine = signNote(body, 'witness.example', witness.privateKey, witness.raw).split(
      '\n\n',
    )[1] as string;
    const both = `${logSigned}${witnessLine}`;
    expect(verifyCheckpoint(both, parseVkey(formatVkey(origin, log.raw))).size).toBe(1);
    expect(parseCheckpoint(both).signatures).toHaveLength(2);
  });

  it('rejects malformed keys and notes', () => {
    const { raw } = keypair();
    const good = formatVkey('log', raw);
    // The base64 key may hold '+' itself: split on the first two only.
    const [name, hash] = good.split('+', 2) as [string, string];
    const key = good.slice(name.length + hash.length + 2);
    for (const bad of [
      `${name}+${hash}`,
      `${name}+00000000+${key}`,
      `${name} x+${hash}+${key}`,
      `${name}+${hash}+${Buffer.concat([Buffer.from([2]), raw]).toString('base64')}`,
      `${name}+${hash}+${raw.toString('base64')}`,
    ]) {
      expect(
        code(() => parseVkey(bad)),
        bad,
      ).toBe('LEDGER_KEY_INVALID');
    }
    for (const bad of [
      '',
      'log\n1\nAAAA\n',
      'log\n01\nx\n\n\u2014 log AAAA\n',
      'log\n1\n\n\u2014 log AAAAAAA=\n',
    ]) {
      expect(code(() => parseCheckpoint(bad))).toBe('LEDGER_CHECKPOINT_INVALID');
    }
  });
});
