import { afterAll, beforeAll, expect, it } from 'vitest';
import { toBuffer } from '../../src/db/index.js';
import { openField, unwrapDataKey } from '../../src/lib/crypto/index.js';
import { type AppError, isAppError } from '../../src/lib/errors.js';
import { decodeEntries, encodeEntries } from '../../src/modules/vault/entries.js';
import { maskValue, openSubjectFields, openSubjectsFields } from '../../src/modules/vault/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { type VaultFixture, vaultFixture } from './helpers.js';

async function failure(p: Promise<unknown>): Promise<AppError> {
  try {
    await p;
  } catch (e) {
    if (isAppError(e)) return e;
    throw e;
  }
  throw new Error('expected the call to fail');
}

const ZHANG = {
  name: '张三',
  mobile: '+86 138 1234 5678',
  email: 'Zhang.San@Example.com',
  company: '北京某某科技有限公司',
  id_number: '11010519491231002x',
  address: '北京市朝阳区建国路88号',
};
const ALL = ['name', 'mobile', 'email', 'company', 'id_number', 'address'];

describeEachDialect('vault service', (dialect) => {
  let f: VaultFixture;
  beforeAll(async () => {
    f = await vaultFixture(dialect);
  });
  afterAll(async () => {
    await f.destroy();
  });

  it('creates a subject, stores normalised values sealed, and records the creation', async () => {
    const m = await f.vault.create({ externalId: 'C1', fields: ZHANG }, { by: 'act_clerk' });
    expect(m).toMatchObject({
      externalId: 'C1',
      erased: false,
      erasedAt: null,
      createdAt: '2024-06-01T08:00:00.000Z',
    });
    expect(m.id).toMatch(/^sub_[a-z2-7]{26}$/);
    expect(m.fields).toEqual([...ALL].sort());
    expect(await f.vault.get(m.id)).toEqual(m);
    expect(await f.vault.findByExternalId('C1')).toEqual(m);
    const values = await openSubjectFields(f.vault, f.db.db, m.id, ALL);
    expect(values).toEqual({
      name: '张三',
      mobile: '+8613812345678',
      email: 'zhang.san@example.com',
      company: '北京某某科技有限公司',
      id_number: '11010519491231002X',
      address: '北京市朝阳区建国路88号',
    });
    const events = await f.events();
    expect(events.at(-1)).toEqual({
      kind: 'subject.created',
      actor: 'act_clerk',
      attrs: { count: 1, subjects: [m.id] },
    });
  });

  it('gives a subject created without an external id its own id as one', async () => {
    const m = await f.vault.create({ fields: { email: 'noext@example.com' } });
    expect(m.externalId).toBe(m.id);
  });

  it('rejects a bad value with its code and field, writes nothing, and echoes no value', async () => {
    const before = await f.counts();
    const e = await failure(
      f.vault.create({ externalId: 'C-bad', fields: { ...ZHANG, mobile: '13800000000x' } }),
    );
    expect(e.code).toBe('VAULT_PHONE_INVALID');
    expect(e.details).toEqual({ index: 0, position: 1, field: 'mobile' });
    expect(JSON.stringify({ m: e.message, d: e.details })).not.toContain('13800000000');
    expect(await f.counts()).toEqual(before);
  });

  it('refuses PI as an external id, a taken external id, unknown fields and empty records', async () => {
    expect(
      (await failure(f.vault.create({ externalId: '13912345678', fields: { name: '李四' } }))).code,
    ).toBe('VAULT_EXTERNAL_ID_INVALID');
    expect((await failure(f.vault.create({ externalId: 'C1', fields: { name: '李四' } }))).code).toBe(
      'VAULT_EXTERNAL_ID_TAKEN',
    );
    expect((await failure(f.vault.create({ externalId: 'C2', fields: { shoe: '42' } }))).code).toBe(
      'VAULT_FIELD_UNKNOWN',
    );
    expect((await failure(f.vault.create({ externalId: 'C2', fields: {} }))).code).toBe('VAULT_NO_FIELDS');
  });

  it('createMany is all or nothing', async () => {
    const before = await f.counts();
    const e = await failure(
      f.vault.createMany([
        { externalId: 'M1', fields: { name: '王五', mobile: '13700000001' } },
        { externalId: 'M2', fields: { name: '赵六', id_number: '110105194912310021' } },
      ]),
    );
    expect(e.code).toBe('VAULT_ID_CHECK_DIGIT_INVALID');
    expect(e.details).toEqual({ index: 1, position: 1, field: 'id_number' });
    expect(await f.counts()).toEqual(before);
    const dup = await failure(
      f.vault.createMany([
        { externalId: 'M1', fields: { name: '王五' } },
        { externalId: 'M1', fields: { name: '赵六' } },
      ]),
    );
    expect(dup.code).toBe('VAULT_EXTERNAL_ID_TAKEN');
    expect(await f.counts()).toEqual(before);
  });

  it("createMany runs inside the caller's transaction when given one", async () => {
    const before = await f.counts();
    await expect(
      f.db.db.transaction().execute(async (trx) => {
        await f.vault.createMany([{ externalId: 'T1', fields: { name: '钱七' } }], { trx });
        expect(
          await trx.selectFrom('subjects').select('id').where('external_id', '=', 'T1').execute(),
        ).toHaveLength(1);
        throw new Error('caller rolls back');
      }),
    ).rejects.toThrow('caller rolls back');
    expect(await f.counts()).toEqual(before);
  });

  // (e) lookup through the blind index in any accepted spelling
  it('looks up by mobile, e-mail and ID number in any accepted input format', async () => {
    const { id } = (await f.vault.findByExternalId('C1'))!;
    const spellings: [string, string][] = [
      ['mobile', '13812345678'],
      ['mobile', '+8613812345678'],
      ['mobile', '+86 138 1234 5678'],
      ['mobile', '86-138-1234-5678'],
      ['mobile', '0086 138 1234 5678'],
      ['mobile', '１３８１２３４５６７８'],
      ['email', 'zhang.san@example.com'],
      ['email', ' ZHANG.SAN@EXAMPLE.COM '],
      ['id_number', '11010519491231002X'],
      ['id_number', '11010519491231002x'],
      ['id_number', '110105 19491231 002X'],
    ];
    for (const [field, value] of spellings)
      expect(await f.vault.lookup(field, value), `${field} ${value}`).toEqual([id]);
    expect(await f.vault.lookup('mobile', '13812345679')).toEqual([]);
  });

  it('finds every subject sharing a value, and refuses lookups it cannot answer', async () => {
    const a = await f.vault.create({ externalId: 'S1', fields: { email: 'family@example.com' } });
    const b = await f.vault.create({ externalId: 'S2', fields: { email: 'Family@example.com' } });
    expect(await f.vault.lookup('email', 'FAMILY@example.com')).toEqual([a.id, b.id].sort());
    expect((await failure(f.vault.lookup('mobile', '12345'))).code).toBe('VAULT_PHONE_INVALID');
    expect((await failure(f.vault.lookup('name', '张三'))).code).toBe('VAULT_FIELD_NOT_SEARCHABLE');
    expect((await failure(f.vault.lookup('passport', 'E1234'))).code).toBe('VAULT_FIELD_UNKNOWN');
  });

  it('updates and removes fields, keeping the blind index in step', async () => {
    const m = await f.vault.create({
      externalId: 'U1',
      fields: { name: '孙八', mobile: '13600000001', email: 'sun@example.com' },
    });
    f.clock.advance(60_000);
    const u = await f.vault.update(m.id, { mobile: '13600000002', email: null }, { by: 'act_clerk' });
    expect(u.fields).toEqual(['mobile', 'name']);
    expect(u.updatedAt).toBe('2024-06-01T08:01:00.000Z');
    expect(await f.vault.lookup('mobile', '13600000001')).toEqual([]);
    expect(await f.vault.lookup('mobile', '13600000002')).toEqual([m.id]);
    expect(await f.vault.lookup('email', 'sun@example.com')).toEqual([]);
    expect(await openSubjectFields(f.vault, f.db.db, m.id, ['name', 'mobile', 'email'])).toEqual({
      name: '孙八',
      mobile: '+8613600000002',
    });
    expect((await f.events()).at(-1)).toEqual({
      kind: 'subject.updated',
      actor: 'act_clerk',
      subject: m.id,
      attrs: { fields: ['email', 'mobile'] },
    });
    expect((await failure(f.vault.update(m.id, { mobile: 'nope' }))).code).toBe('VAULT_PHONE_INVALID');
    expect((await failure(f.vault.update('sub_missing', { name: '周九' }))).code).toBe(
      'VAULT_SUBJECT_NOT_FOUND',
    );
  });

  /**
   * Threat: two writers change one subject at the same moment (a clerk corrects the address while an
   * import updates the phone). Fields live in one row now, so an update reads, merges and writes the
   * row; without a row lock one change would silently undo the other, or an erasure racing an update
   * would leave index entries pointing at an erased person.
   */
  it('loses neither of two concurrent updates, and an erasure racing updates leaves nothing findable', async () => {
    const m = await f.vault.create({ externalId: 'R1', fields: { name: '钱九' } });
    for (let round = 0; round < 5; round++) {
      const mobile = `1370000000${round}`;
      const email = `r${round}@example.com`;
      await Promise.all([f.vault.update(m.id, { mobile }), f.vault.update(m.id, { email })]);
      expect(await openSubjectFields(f.vault, f.db.db, m.id, ['mobile', 'email'])).toEqual({
        mobile: `+86${mobile}`,
        email,
      });
      expect(await f.vault.lookup('email', email)).toEqual([m.id]);
    }
    const e = await f.vault.create({ externalId: 'R2', fields: { name: '钱十', mobile: '13700000100' } });
    const outcomes = await Promise.allSettled([
      f.vault.update(e.id, { mobile: '13700000101' }),
      f.vault.erase(e.id),
      f.vault.update(e.id, { email: 'r2@example.com' }),
    ]);
    expect(outcomes[1]!.status).toBe('fulfilled');
    for (const o of outcomes)
      if (o.status === 'rejected') expect((o.reason as AppError).code).toBe('VAULT_SUBJECT_ERASED');
    for (const [field, value] of [
      ['mobile', '13700000100'],
      ['mobile', '13700000101'],
      ['email', 'r2@example.com'],
    ] as const)
      expect(await f.vault.lookup(field, value)).toEqual([]);
    expect(
      await f.db.db.selectFrom('blind_index').selectAll().where('subject_id', '=', e.id).execute(),
    ).toEqual([]);
  });
  it('masks values with the catalog', () => {
    expect(maskValue(f.vault.catalog, 'mobile', '+8613812345678')).toBe('138****5678');
    expect(maskValue(f.vault.catalog, 'name', '张三')).toBe('张*');
    expect(maskValue(f.vault.catalog, 'id_number', '11010519491231002X')).toBe('1101**********002X');
    expect(() => maskValue(f.vault.catalog, 'passport', 'x')).toThrow(/not in the field catalog/);
  });

  it('resolves external ids and knows which subject ids exist', async () => {
    const c1 = (await f.vault.findByExternalId('C1'))!;
    const map = await f.vault.resolveExternalIds(['C1', 'nope', 'C1']);
    expect([...map]).toEqual([['C1', c1.id]]);
    expect(await f.vault.knownSubjects(f.db.db, [c1.id, 'sub_nope'])).toEqual(new Set([c1.id]));
  });

  /**
   * Threat (d): a subject exercises the right to erasure (PIPL art. 47) and the organisation keeps
   * an old copy of the database, or someone later obtains the key file. After crypto-shredding,
   * the wrapped key, the ciphertexts and the blind-index entries are gone from the row, lookups no
   * longer find the person, every read path says VAULT_SUBJECT_ERASED, and a copy of the
   * ciphertexts taken before (a backup) cannot be opened by any key that still exists.
   */
  it('erases by crypto-shredding: key, ciphertexts and index entries go; an earlier copy cannot be opened', async () => {
    const m = await f.vault.create({
      externalId: 'E1',
      fields: {
        name: '吴十',
        mobile: '13500000001',
        email: 'wu@example.com',
        id_number: '11010519491231002X',
      },
    });
    const before = await f.db.db
      .selectFrom('subjects')
      .select(['kek_version', 'wrapped_key', 'sealed'])
      .where('id', '=', m.id)
      .executeTakeFirstOrThrow();
    const sealedBefore = decodeEntries(toBuffer(before.sealed))!;
    expect(sealedBefore.map((e) => e.name)).toEqual(['email', 'id_number', 'mobile', 'name']);
    // The wrapped key opens before erasure (so the check below is not vacuous).
    const dataKey = unwrapDataKey(f.keyring, m.id, {
      kekVersion: Number(before.kek_version),
      wrapped: toBuffer(before.wrapped_key),
    });
    expect(openField(dataKey, m.id, 'name', sealedBefore.find((e) => e.name === 'name')!.value)).toBe('吴十');

    f.clock.advance(60_000);
    const erased = await f.vault.erase(m.id, { by: 'act_dpo' });
    expect(erased).toMatchObject({ erased: true, erasedAt: '2024-06-01T08:02:00.000Z', fields: [] });
    expect((await f.events()).at(-1)).toEqual({ kind: 'subject.erased', actor: 'act_dpo', subject: m.id });

    expect((await failure(openSubjectFields(f.vault, f.db.db, m.id, ['name']))).code).toBe(
      'VAULT_SUBJECT_ERASED',
    );
    expect((await failure(f.vault.update(m.id, { name: '吴十一' }))).code).toBe('VAULT_SUBJECT_ERASED');
    expect(await f.vault.lookup('mobile', '13500000001')).toEqual([]);
    expect(await f.vault.lookup('email', 'wu@example.com')).toEqual([]);
    expect(await f.vault.lookup('id_number', '11010519491231002X')).not.toContain(m.id);
    expect(await f.vault.resolveExternalIds(['E1'])).toEqual(new Map());

    expect(
      await f.db.db.selectFrom('blind_index').selectAll().where('subject_id', '=', m.id).execute(),
    ).toEqual([]);
    const after = await f.db.db
      .selectFrom('subjects')
      .select(['fingerprint', 'kek_version', 'wrapped_key', 'sealed', 'lookup_keys'])
      .where('id', '=', m.id)
      .executeTakeFirstOrThrow();
    expect(after).toEqual({
      fingerprint: null,
      kek_version: null,
      wrapped_key: null,
      sealed: null,
      lookup_keys: null,
    });
    // No key that still exists opens the earlier copy: every KEK in the key file and the index key fail.
    const candidates = [...f.keyring.kekVersions().map((v) => f.keyring.kek(v)), f.keyring.indexKey];
    for (const e of sealedBefore) {
      for (const k of candidates) expect(() => openField(k, m.id, e.name, e.value)).toThrow();
    }
    // Erasing again changes nothing and records nothing.
    const n = (await f.events()).length;
    expect(await f.vault.erase(m.id)).toEqual(erased);
    expect((await f.events()).length).toBe(n);
    expect((await failure(f.vault.erase('sub_missing'))).code).toBe('VAULT_SUBJECT_NOT_FOUND');
  });

  it('opens many subjects at once, listing erased and unknown ones', async () => {
    const c1 = (await f.vault.findByExternalId('C1'))!;
    const e1 = (await f.vault.findByExternalId('E1'))!;
    const r = await openSubjectsFields(f.vault, f.db.db, [c1.id, e1.id, 'sub_nope'], ['mobile', 'email']);
    expect([...r.values]).toEqual([[c1.id, { mobile: '+8613812345678', email: 'zhang.san@example.com' }]]);
    expect(r.erased).toEqual([e1.id]);
    expect(r.missing).toEqual(['sub_nope']);
    expect((await failure(openSubjectFields(f.vault, f.db.db, 'sub_nope', ['name']))).code).toBe(
      'VAULT_SUBJECT_NOT_FOUND',
    );
    expect((await failure(openSubjectFields(f.vault, f.db.db, c1.id, ['passport']))).code).toBe(
      'VAULT_FIELD_UNKNOWN',
    );
  });

  /**
   * Threat: someone with write access to the database (but not the keys) moves a ciphertext to
   * another subject or another field, so that one person's value would be shown as another's. The
   * associated data binds subject id and field, so the moved value fails authentication instead.
   */
  it('refuses a ciphertext moved to another subject or field', async () => {
    const a = await f.vault.create({ externalId: 'X1', fields: { name: '甲', company: '甲公司' } });
    const b = await f.vault.create({ externalId: 'X2', fields: { name: '乙', company: '乙公司' } });
    const sealedOf = async (id: string) =>
      decodeEntries(
        toBuffer(
          (
            await f.db.db
              .selectFrom('subjects')
              .select('sealed')
              .where('id', '=', id)
              .executeTakeFirstOrThrow()
          ).sealed,
        ),
      )!;
    // Replaces one entry of a subject's sealed list, the way a database writer could.
    const plant = async (id: string, field: string, value: Buffer) => {
      const entries = (await sealedOf(id)).map((e) => (e.name === field ? { name: field, value } : e));
      await f.db.db
        .updateTable('subjects')
        .set({ sealed: encodeEntries(entries) })
        .where('id', '=', id)
        .execute();
    };
    const nameOfA = Buffer.from((await sealedOf(a.id)).find((e) => e.name === 'name')!.value);
    await plant(b.id, 'name', nameOfA);
    expect((await failure(openSubjectFields(f.vault, f.db.db, b.id, ['name']))).code).toBe(
      'VAULT_DECRYPT_FAILED',
    );
    await plant(a.id, 'company', nameOfA);
    expect((await failure(openSubjectFields(f.vault, f.db.db, a.id, ['company']))).code).toBe(
      'VAULT_DECRYPT_FAILED',
    );
    expect(await openSubjectFields(f.vault, f.db.db, a.id, ['name'])).toEqual({ name: '甲' });
  });
});
