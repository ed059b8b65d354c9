import { readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyFile, keyringFromFile } from '../../src/lib/crypto/index.js';
import { isAppError } from '../../src/lib/errors.js';
import {
  decodeEntry,
  encodeEntry,
  leafHash,
  parseVkey,
  rootFromEntries,
  rootFromLeafHashes,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from '../../src/modules/ledger/index.js';
import { describeEachDialect, enabledDialects } from '../helpers/db.js';
import {
  createTestLedger,
  dropAppendOnly,
  event,
  events,
  hexToBuf,
  ORIGIN,
  type TestLedger,
} from './helpers.js';

async function errorCode(p: Promise<unknown>): Promise<string | undefined> {
  try {
    await p;
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${(e as Error).message}`;
  }
  return undefined;
}

describeEachDialect('ledger', (dialect) => {
  let t: TestLedger;
  beforeAll(async () => {
    t = await createTestLedger(dialect, { batchSize: 100 });
  });
  afterAll(async () => {
    await t.ledger.stop();
    await t.db.destroy();
  });

  it('starts empty and signs the empty tree', async () => {
    expect(await t.ledger.size()).toBe(0);
    expect(await t.ledger.latestCheckpoint()).toBeUndefined();
    const cp = await t.ledger.checkpoint();
    expect(cp.size).toBe(0);
    expect(cp.root).toBe(rootFromEntries([]).toString('hex'));
    expect((await t.ledger.verify()).ok).toBe(true);
  });

  it("appends in the caller's transaction: rolled back means never there, committed means durable in pending", async () => {
    await expect(
      t.db.db.transaction().execute(async (trx) => {
        await t.ledger.append(trx, [event(1)]);
        throw new Error('caller fails');
      }),
    ).rejects.toThrow('caller fails');
    expect(await t.ledger.pendingCount()).toBe(0);

    const hashes = await t.db.db.transaction().execute((trx) => t.ledger.append(trx, events(0, 3)));
    expect(hashes).toEqual(
      events(0, 3).map((e) => leafHash(encodeEntry(e, '2024-03-01T08:00:00.000Z')).toString('hex')),
    );
    expect(await t.ledger.pendingCount()).toBe(3);
    expect(await t.ledger.size()).toBe(0);
    expect(await errorCode(t.ledger.inclusionProof({ leafHash: hashes[0] as string }))).toBe(
      'LEDGER_LEAF_PENDING',
    );

    const r = await t.ledger.integrate();
    expect(r).toEqual({ integrated: 3, batches: 1, size: 3 });
    expect(await t.ledger.pendingCount()).toBe(0);
    const p = await t.ledger.inclusionProof({ leafHash: hashes[2] as string });
    expect(p.index).toBe(2);
  });

  it('integrates pending entries in order, in batches, and the tree equals the one built from the entries', async () => {
    const before = await t.ledger.size();
    const all: string[] = [];
    for (let k = 0; k < 5; k++) {
      all.push(
        ...(await t.db.db.transaction().execute((trx) => t.ledger.append(trx, events(100 + k * 53, 53)))),
      );
    }
    const r = await t.ledger.integrate();
    expect(r.integrated).toBe(265);
    expect(r.batches).toBe(3); // batchSize 100
    const got = await t.ledger.entries(before, 1000);
    expect(got.map((e) => e.leafHash)).toEqual(all);
    expect(got[0]?.event.subject).toBe('sub_r0_100');
    const everything = await t.ledger.entries(0, 1000);
    const cp = await t.ledger.checkpoint();
    expect(cp.root).toBe(rootFromEntries(everything.map((e) => e.bytes)).toString('hex'));
  });

  it('appendBatch writes straight to the tree across tile and level boundaries', async () => {
    const before = await t.ledger.size();
    // 66k entries: fills level-0 tiles, 256 level-1 hashes and starts a level-2 tile.
    const sizes = [1, 255, 256, 300, 65_536 - 812, 700];
    let expectedSize = before;
    for (const [i, n] of sizes.entries()) {
      const r = await t.ledger.appendBatch(events(10_000 + i * 100_000, n));
      expect(r.first).toBe(expectedSize);
      expectedSize += n;
      expect(r.size).toBe(expectedSize);
      expect(r.leafHashes).toHaveLength(n);
    }
    expect(await t.ledger.size()).toBe(expectedSize);
    // (The full verification of this log runs once, after the tests below.)
    const level2 = await t.ledger.tile(2, 0, 1);
    expect(level2.length).toBe(32);
  });

  it('signs checkpoints that verify with the published key, only over trees that extend the last one', async () => {
    const v = parseVkey(t.ledger.vkey());
    expect(v.name).toBe(ORIGIN);
    const cp1 = await t.ledger.checkpoint();
    const parsed1 = verifyCheckpoint(cp1.note, v, ORIGIN);
    expect(parsed1.size).toBe(await t.ledger.size());
    // Unchanged tree: the same checkpoint (Ed25519 is deterministic), not a new row.
    expect(await t.ledger.checkpoint()).toEqual(cp1);
    await t.ledger.appendBatch(events(900_000, 10));
    const cp2 = await t.ledger.checkpoint();
    expect(cp2.size).toBe(cp1.size + 10);
    expect(await t.ledger.latestCheckpoint()).toEqual(cp2);
    const c = await t.ledger.consistencyProof(cp1.size, cp2.size);
    expect(
      verifyConsistency({
        size1: cp1.size,
        size2: cp2.size,
        root1: parsed1.root,
        root2: verifyCheckpoint(cp2.note, v).root,
        proof: c.proof.map(hexToBuf),
      }),
    ).toBe(true);
    expect(c.fromRoot).toBe(cp1.root);
  });

  it('proves inclusion of any entry, by index or leaf hash, against the signed checkpoint', async () => {
    const cp = (await t.ledger.latestCheckpoint())!;
    const root = hexToBuf(cp.root);
    const n = cp.size;
    const picks = [0, 1, 2, 255, 256, 257, 65_535, 65_536, n - 2, n - 1];
    for (let k = 0; k < 20; k++) picks.push(Math.floor(Math.random() * n));
    for (const index of picks) {
      const p = await t.ledger.inclusionProof({ index });
      expect(p.size).toBe(n);
      expect(p.checkpoint).toBe(cp.note);
      const args = { index, size: n, leafHash: hexToBuf(p.leafHash), proof: p.proof.map(hexToBuf), root };
      expect(verifyInclusion(args), `index ${index}`).toBe(true);
      expect(verifyInclusion({ ...args, index: index ^ 1 })).toBe(false);
      const byLeaf = await t.ledger.inclusionProof({ leafHash: p.leafHash });
      expect(byLeaf.index).toBe(index);
    }
    // The leaf hash is the hash of the stored entry bytes.
    const [e] = await t.ledger.entries(65_536, 1);
    expect(leafHash(e!.bytes).toString('hex')).toBe(e!.leafHash);
    expect(decodeEntry(e!.bytes)).toEqual(e!.event);
    // Against an older size too.
    const old = await t.ledger.inclusionProof({ index: 5, size: 300 });
    expect(old.size).toBe(300);
    const oldRoot = rootFromLeafHashes((await t.ledger.entries(0, 300)).map((x) => hexToBuf(x.leafHash)));
    expect(old.root).toBe(oldRoot.toString('hex'));
    expect(
      verifyInclusion({
        index: 5,
        size: 300,
        leafHash: hexToBuf(old.leafHash),
        proof: old.proof.map(hexToBuf),
        root: oldRoot,
      }),
    ).toBe(true);
  });

  it('answers bad queries with stable codes and no data', async () => {
    const n = await t.ledger.size();
    expect(await errorCode(t.ledger.inclusionProof({}))).toBe('LEDGER_QUERY_INVALID');
    expect(await errorCode(t.ledger.inclusionProof({ index: 1, leafHash: 'a'.repeat(64) }))).toBe(
      'LEDGER_QUERY_INVALID',
    );
    expect(await errorCode(t.ledger.inclusionProof({ leafHash: 'zz' }))).toBe('LEDGER_QUERY_INVALID');
    expect(await errorCode(t.ledger.inclusionProof({ leafHash: 'ab'.repeat(32) }))).toBe(
      'LEDGER_LEAF_NOT_FOUND',
    );
    expect(await errorCode(t.ledger.inclusionProof({ index: n }))).toBe('LEDGER_INDEX_OUT_OF_RANGE');
    expect(await errorCode(t.ledger.inclusionProof({ index: 5, size: 5 }))).toBe('LEDGER_INDEX_OUT_OF_RANGE');
    expect(await errorCode(t.ledger.inclusionProof({ index: 0, size: n + 1 }))).toBe(
      'LEDGER_SIZE_OUT_OF_RANGE',
    );
    expect(await errorCode(t.ledger.consistencyProof(0, 5))).toBe('LEDGER_SIZE_OUT_OF_RANGE');
    expect(await errorCode(t.ledger.consistencyProof(6, 5))).toBe('LEDGER_SIZE_OUT_OF_RANGE');
    expect(await errorCode(t.ledger.consistencyProof(1, n + 1))).toBe('LEDGER_SIZE_OUT_OF_RANGE');
    expect(await errorCode(t.ledger.tile(0, Math.ceil(n / 256) + 1))).toBe('LEDGER_TILE_NOT_FOUND');
    expect(await errorCode(t.ledger.tile(0, Math.floor(n / 256)))).toBe('LEDGER_TILE_NOT_FOUND'); // partial, asked full
    expect(await errorCode(t.ledger.entryBundle(0, 256))).toBe('LEDGER_TILE_NOT_FOUND');
    expect(await errorCode(t.ledger.appendBatch([{ kind: 'bad kind', actor: null }]))).toBe(
      'LEDGER_EVENT_INVALID',
    );
    expect(await t.ledger.size()).toBe(n);
  });

  it('serves tiles and entry bundles a client can rebuild the tree from', async () => {
    const n = 600;
    const leaves: Buffer[] = [];
    for (let i = 0; i * 256 < n; i++) {
      const w = Math.min(256, n - i * 256);
      const bytes = w === 256 ? await t.ledger.tile(0, i) : await t.ledger.tile(0, i, w);
      for (let j = 0; j < w; j++) leaves.push(bytes.subarray(j * 32, (j + 1) * 32));
      const bundle = await t.ledger.entryBundle(i, w === 256 ? undefined : w);
      let at = 0;
      for (let j = 0; j < w; j++) {
        const len = bundle.readUInt16BE(at);
        const entry = bundle.subarray(at + 2, at + 2 + len);
        at += 2 + len;
        expect(leafHash(entry).equals(leaves[i * 256 + j] as Buffer)).toBe(true);
      }
      expect(at).toBe(bundle.length);
    }
    const p = await t.ledger.inclusionProof({ index: 0, size: n });
    expect(rootFromLeafHashes(leaves).toString('hex')).toBe(p.root);
    // A partial read of a full tile is its prefix; level 1 holds 256-leaf subtree roots.
    expect((await t.ledger.tile(0, 0, 10)).equals((await t.ledger.tile(0, 0)).subarray(0, 320))).toBe(true);
    expect(
      (await t.ledger.tile(1, 0, 2)).subarray(32, 64).equals(rootFromLeafHashes(leaves.slice(256, 512))),
    ).toBe(true);
  });

  it('runs the sequencer on a cadence and publishes checkpoints', async () => {
    const before = await t.ledger.size();
    t.ledger.startSequencer({ intervalMs: 10, checkpointIntervalMs: 10 });
    await t.db.db.transaction().execute((trx) => t.ledger.append(trx, events(500_000, 7)));
    const deadline = Date.now() + 10_000;
    while ((await t.ledger.latestCheckpoint())!.size < before + 7 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    await t.db.db.transaction().execute((trx) => t.ledger.append(trx, events(600_000, 2)));
    await t.ledger.stop();
    // stop() drains what is pending and publishes a last checkpoint.
    expect(await t.ledger.pendingCount()).toBe(0);
    expect((await t.ledger.latestCheckpoint())!.size).toBe(before + 9);
  });

  // Append-only storage. Threat: an operator, a script or a bug rewrites history with UPDATE,
  // DELETE or TRUNCATE instead of going through the ledger. The 66k-entry log above has entries,
  // tiles of three levels, a leaf-index epoch and checkpoints for the triggers to guard.
  const statements = [
    'UPDATE ledger_entries SET entry = entry WHERE idx = 1',
    'DELETE FROM ledger_entries WHERE idx = 1',
    'UPDATE ledger_tiles SET hashes = hashes WHERE level = 0',
    'DELETE FROM ledger_tiles WHERE level = 0',
    'UPDATE ledger_leaf_index SET data = data',
    'DELETE FROM ledger_leaf_index',
    'UPDATE ledger_checkpoints SET note = note',
    'DELETE FROM ledger_checkpoints',
  ];
  for (const stmt of statements) {
    it(`rejects: ${stmt}`, async () => {
      await expect(sql.raw(stmt).execute(t.db.db)).rejects.toThrow(/append-only/);
    });
  }
  if (dialect === 'postgres') {
    it('rejects TRUNCATE', async () => {
      for (const table of ['ledger_entries', 'ledger_tiles', 'ledger_leaf_index', 'ledger_checkpoints']) {
        await expect(sql.raw(`TRUNCATE ${table}`).execute(t.db.db)).rejects.toThrow(/append-only/);
      }
    });
  }
  it('still verifies after the attempts', async () => {
    const r = await t.ledger.verify();
    expect(r.problems).toEqual([]);
    expect(r.entriesChecked).toBeGreaterThan(65_536);
  });

  // Threat: someone with database access edits the leaf index so that an entry can no longer be
  // found by its leaf hash (a reader looking for proof of a read would be told there is none).
  it('detects an altered leaf-index row (last: it drops the trigger)', async () => {
    await dropAppendOnly(t.db.db, dialect, 'ledger_leaf_index');
    const row = await sql<{
      data: Buffer;
    }>`SELECT data FROM ledger_leaf_index WHERE bucket = 7 AND epoch = 0`.execute(t.db.db);
    const data = Buffer.from((row.rows[0] as { data: Buffer }).data);
    data[3] = (data[3] as number) ^ 1;
    await sql`UPDATE ledger_leaf_index SET data = ${data} WHERE bucket = 7 AND epoch = 0`.execute(t.db.db);
    const r = await t.ledger.verify();
    expect(r.firstBadIndex).toBe(0);
    expect(r.problems[0]?.kind).toBe('leaf_index_mismatch');
  });

  it('refuses to sign a tree that does not extend the last signed one', async () => {
    const other = await createTestLedger(dialect, { keyring: t.keyring });
    try {
      await other.ledger.appendBatch(events(0, 20));
      const cp = await other.ledger.checkpoint();
      // An attacker winds the state row back to a smaller tree (with its correct root)…
      const root5 = rootFromEntries((await other.ledger.entries(0, 5)).map((e) => e.bytes));
      await sql`UPDATE ledger_state SET size = 5, root = ${root5}`.execute(other.db.db);
      // …the log will neither sign it (a checkpoint of 20 exists) nor build a second history on it.
      expect(await errorCode(other.ledger.checkpoint())).toBe('LEDGER_INCONSISTENT');
      expect(await errorCode(other.ledger.appendBatch(events(99, 1)))).toBe('LEDGER_INCONSISTENT');
      // A state root the tiles do not give is refused as well.
      await sql`UPDATE ledger_state SET size = 20, root = ${root5}`.execute(other.db.db);
      expect(await errorCode(other.ledger.checkpoint())).toBe('LEDGER_INCONSISTENT');
      expect(await errorCode(other.ledger.appendBatch(events(99, 1)))).toBe('LEDGER_INCONSISTENT');
      expect((await other.ledger.latestCheckpoint())?.note).toBe(cp.note);
    } finally {
      await other.db.destroy();
    }
  });
});

describe('ledger code has no UPDATE or DELETE path into entries, tiles or checkpoints', () => {
  it('in any source file of the module', () => {
    const dir = resolve(fileURLToPath(new URL('.', import.meta.url)), '../../src/modules/ledger');
    const offending: string[] = [];
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.ts') && !x.endsWith('.test.ts'))) {
      const src = readFileSync(join(dir, f), 'utf8');
      const re =
        /\b(UPDATE|DELETE\s+FROM|TRUNCATE|INSERT\s+OR\s+REPLACE|REPLACE\s+INTO)\s+(ledger_entries|ledger_tiles|ledger_leaf_index|ledger_checkpoints)\b/gi;
      for (const m of src.matchAll(re)) offending.push(`${f}: ${m[0]}`);
      if (/ON\s+CONFLICT[^;`]*DO\s+UPDATE/i.test(src)) offending.push(`${f}: ON CONFLICT DO UPDATE`);
    }
    expect(offending).toEqual([]);
  });
});

describe('the same bytes on every dialect', () => {
  it('entries, tiles, roots and signed checkpoints are identical', async () => {
    const keyring = keyringFromFile(generateKeyFile());
    const results: { entries: string[]; tile: string; cp: string }[] = [];
    for (const dialect of enabledDialects()) {
      const t = await createTestLedger(dialect, { keyring });
      try {
        await t.ledger.appendBatch(events(0, 300));
        await t.db.db.transaction().execute((trx) => t.ledger.append(trx, events(300, 5)));
        await t.ledger.integrate();
        const cp = await t.ledger.checkpoint();
        const entries = (await t.ledger.entries(0, 305)).map((e) => e.bytes.toString('hex'));
        expect(entries[0]).toBe(encodeEntry(event(0), '2024-03-01T08:00:00.000Z').toString('hex'));
        results.push({ entries, tile: (await t.ledger.tile(0, 0)).toString('hex'), cp: cp.note });
      } finally {
        await t.db.destroy();
      }
    }
    for (const r of results.slice(1)) expect(r).toEqual(results[0]);
  });
});
