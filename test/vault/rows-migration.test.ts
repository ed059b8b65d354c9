/**
 * Migration 0007_vault_rows folds the per-field rows of 0001 (subject_keys, subject_fields,
 * blind_index keyed by subject) into one row per subject, in SQL, without decrypting.
 *
 * Threat: a schema change that loses or mixes up data — a subject whose fields open as another's, a
 * shredded subject whose data key or lookups come back, an index entry left pointing at an erased
 * person. The test writes the old layout with the real crypto, migrates, and reads everything back
 * through the vault on both dialects.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { describeSchema, migrate, toBuffer } from '../../src/db/index.js';
import { migrations } from '../../src/db/migrations/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import {
  blindIndexer,
  generateKeyFile,
  type Keyring,
  keyringFromFile,
  newDataKey,
  sealField,
  wrapDataKey,
} from '../../src/lib/crypto/index.js';
import { decodeEntries } from '../../src/modules/vault/entries.js';
import { createVault, loadCatalog, openSubjectFields, type Vault } from '../../src/modules/vault/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

const PEOPLE = [
  { id: 'sub_a', ext: 'A1', fields: { name: '张三', mobile: '+8613812345678', email: 'zhang@example.com' } },
  { id: 'sub_b', ext: 'B1', fields: { name: '李四', address: '北京市海淀区中关村大街1号' } },
  { id: 'sub_c', ext: 'C1', fields: { name: '王五', mobile: '+8613900000009' }, erased: true },
] as const;

describeEachDialect('migration 0007_vault_rows', (dialect) => {
  let d: TestDatabase;
  let keyring: Keyring;
  let vault: Vault;

  beforeAll(async () => {
    d = await createTestDatabase(dialect, { migrate: false });
    await migrate(d, migrations.slice(0, 6));
    keyring = keyringFromFile(generateKeyFile());
    const hash = blindIndexer(keyring);
    const catalog = loadCatalog();
    const now = '2024-06-01T08:00:00.000Z';
    for (const p of PEOPLE) {
      const erased = 'erased' in p;
      await d.db
        .insertInto('subjects')
        .values({
          id: p.id,
          external_id: p.ext,
          created_at: now,
          updated_at: now,
          erased_at: erased ? now : null,
          fingerprint: erased ? null : Buffer.alloc(32, 1),
        })
        .execute();
      const dk = newDataKey();
      // 0001's erasure deleted the key and index rows and left the ciphertexts.
      if (!erased) {
        const w = wrapDataKey(keyring, p.id, dk);
        await d.db
          .insertInto('subject_keys')
          .values({ subject_id: p.id, kek_version: w.kekVersion, wrapped_key: w.wrapped })
          .execute();
      }
      for (const [field, value] of Object.entries(p.fields)) {
        await d.db
          .insertInto('subject_fields')
          .values({ subject_id: p.id, field, ciphertext: sealField(dk, p.id, field, value) })
          .execute();
        if (!erased && catalog.field(field)!.searchable)
          await d.db
            .insertInto('blind_index')
            .values({ field, hash: hash(field, value), subject_id: p.id })
            .execute();
      }
    }
    const r = await migrate(d);
    // 0007 runs first; the later migrations follow it.
    expect(r.applied[0]).toBe('0007_vault_rows');
    vault = createVault({
      db: d.db,
      dialect,
      keyring,
      catalog,
      clock: fixedClock(now),
      record: memoryRecorder().record,
    });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('moves keys and sealed fields into each subject row, opened by the same keys', async () => {
    for (const p of PEOPLE.filter((x) => !('erased' in x))) {
      const names = Object.keys(p.fields);
      expect(await openSubjectFields(vault, d.db, p.id, names)).toEqual(p.fields);
      expect((await vault.get(p.id)).fields).toEqual([...names].sort());
    }
    expect(await vault.lookup('mobile', '13812345678')).toEqual(['sub_a']);
    expect(await vault.lookup('email', 'zhang@example.com')).toEqual(['sub_a']);
  });

  it('keeps a shredded subject shredded: no key, no ciphertext, no index entry', async () => {
    const c = await d.db
      .selectFrom('subjects')
      .selectAll()
      .where('id', '=', 'sub_c')
      .executeTakeFirstOrThrow();
    expect([c.kek_version, c.wrapped_key, c.sealed, c.lookup_keys]).toEqual([null, null, null, null]);
    expect(await vault.lookup('mobile', '13900000009')).toEqual([]);
    expect((await vault.get('sub_c')).erased).toBe(true);
  });

  it('lists each row’s own index entries, so erasure removes exactly them', async () => {
    const a = await d.db
      .selectFrom('subjects')
      .select('lookup_keys')
      .where('id', '=', 'sub_a')
      .executeTakeFirstOrThrow();
    expect(decodeEntries(toBuffer(a.lookup_keys))!.map((e) => e.name)).toEqual(['email', 'mobile']);
    await vault.erase('sub_a');
    expect(await vault.lookup('mobile', '13812345678')).toEqual([]);
    expect(await d.db.selectFrom('blind_index').selectAll().execute()).toEqual([]);
    await expect(vault.update('sub_b', { mobile: '13700000001' })).resolves.toMatchObject({
      fields: ['address', 'mobile', 'name'],
    });
    expect(await vault.lookup('mobile', '13700000001')).toEqual(['sub_b']);
  });

  it('drops the per-field tables', async () => {
    const tables = Object.keys(await describeSchema(d));
    expect(tables).not.toContain('subject_keys');
    expect(tables).not.toContain('subject_fields');
    expect(tables).toContain('blind_index');
  });
});
