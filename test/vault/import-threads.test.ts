import { afterAll, beforeAll, expect, it } from 'vitest';
import { importSubjects, openSubjectFields } from '../../src/modules/vault/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { customers, customersCsvBytes, type VaultFixture, vaultFixture } from './helpers.js';

/*
 * Threat: a sealing pipeline that reorders its work puts one customer's sealed fields, data key or
 * blind-index entries on another customer's row — a disclosure to whoever reads the wrong record,
 * and lookups that return the wrong person. Batches sealed by other threads must land exactly on
 * the rows they came from, in input order, and open under their own subject's key only.
 */
const SEED = 'import-threads';
const COUNT = 4_500;
const FIELDS = ['name', 'mobile', 'email', 'company', 'id_number', 'address'];

describeEachDialect('import with sealing threads', (dialect) => {
  let f: VaultFixture;
  beforeAll(async () => {
    f = await vaultFixture(dialect);
  });
  afterAll(async () => {
    await f.destroy();
  });

  it(
    'every row sealed by a pool thread opens to its own values and is found by its own lookups',
    {
      timeout: 120_000,
    },
    async () => {
      // 1,000-row batches go to the two sealing threads; the 500-row tail is sealed by the worker.
      const r = await importSubjects(f.vault, [customersCsvBytes(SEED, COUNT)], {
        batchSize: 1000,
        worker: true,
        sealThreads: 2,
      });
      expect(r.aborted).toBeUndefined();
      const all = customers(SEED, COUNT);
      expect(r.imported + r.rejectedRows).toBe(COUNT);
      const rejected = new Set(r.rejected.map((p) => p.row));
      const ids = await f.vault.resolveExternalIds(all.map((c) => c.external_id));
      let checked = 0;
      // Every 37th customer, spread over every batch and both threads, and the last one.
      const sample = [...Array.from({ length: Math.ceil(COUNT / 37) }, (_, k) => k * 37), COUNT - 1];
      for (const i of sample) {
        const c = all[i]!;
        if (rejected.has(i + 1)) continue;
        const id = ids.get(c.external_id)!;
        expect(id).toBeDefined();
        const opened = await openSubjectFields(f.vault, f.db.db, id, FIELDS);
        expect(opened.name).toBe(c.name);
        expect(opened.company).toBe(c.company === '' ? undefined : c.company);
        expect(opened.id_number).toBe(c.id_number.toUpperCase());
        expect(await f.vault.lookup('id_number', c.id_number)).toEqual([id]);
        checked++;
      }
      expect(checked).toBeGreaterThan(100);
    },
  );
});
