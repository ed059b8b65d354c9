// Threat: key material left in memory. Bulk import draws data keys from a shared 64 KiB random
// pool; wiping the caller's copy with fill(0) is worthless if the same 32 bytes stay in the pool
// buffer for the process's lifetime (a heap dump, core file or a later out-of-bounds read would
// expose every data key of the last 2,000 subjects). The pool's slice must be zeroed when a data
// key is taken from it.
import { describe, expect, it } from 'vitest';
import { poolSnapshotForTests, sealNewSubject, unwrapDataKey } from './envelope.js';
import { generateKeyFile, keyringFromFile } from './keyring.js';

describe('random pool and data keys', () => {
  it('leaves no copy of a data key in the pool', () => {
    const keyring = keyringFromFile(generateKeyFile());
    for (let i = 0; i < 50; i++) {
      const id = `s${i}`;
      const { key } = sealNewSubject(keyring, id, ['name'], ['张三']);
      const dataKey = unwrapDataKey(keyring, id, key);
      expect(poolSnapshotForTests().indexOf(dataKey)).toBe(-1);
    }
  });
});
