import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  insertFlat,
  insertObjects,
  insertSql,
  MAX_BIND_PARAMS,
  rowsPerStatement,
} from '../../src/db/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';

describe('bulk insert statements', () => {
  it('writes one placeholder per value in the dialect’s style', () => {
    expect(insertSql('sqlite', 't', ['a', 'b'], 2)).toBe('INSERT INTO t (a,b) VALUES (?,?),(?,?)');
    expect(insertSql('postgres', 't', ['a', 'b'], 2)).toBe('INSERT INTO t (a,b) VALUES ($1,$2),($3,$4)');
  });

  it('caches a shape per table, columns and row count', () => {
    expect(insertSql('postgres', 't', ['a', 'b'], 3)).toBe(insertSql('postgres', 't', ['a', 'b'], 3));
    expect(insertSql('postgres', 't', ['a', 'c'], 1)).toBe('INSERT INTO t (a,c) VALUES ($1,$2)');
    expect(insertSql('sqlite', 'u', ['a', 'b'], 1)).toBe('INSERT INTO u (a,b) VALUES (?,?)');
  });

  it('keeps each statement under the parameter limit', () => {
    expect(rowsPerStatement(12) * 12).toBeLessThanOrEqual(MAX_BIND_PARAMS);
    expect(MAX_BIND_PARAMS).toBeLessThanOrEqual(32_766);
  });
});

describeEachDialect('bulk insert', (dialect) => {
  let t: TestDatabase;
  beforeAll(async () => {
    t = await createTestDatabase(dialect, { migrate: false });
    await sql`create table bulk_t (a integer not null, b text, c ${sql.raw(dialect === 'sqlite' ? 'blob' : 'bytea')})`.execute(
      t.db,
    );
  });
  afterAll(() => t.destroy());

  it('inserts more rows than one statement carries, in order, in a transaction', async () => {
    const n = rowsPerStatement(3) * 2 + 7;
    const params: unknown[] = [];
    for (let i = 0; i < n; i++) params.push(i, i % 5 ? `r${i}` : null, Buffer.from([i & 255]));
    await t.db.transaction().execute((trx) => insertFlat(trx, 'bulk_t', ['a', 'b', 'c'], params));
    const r = await sql<{ n: number; s: number }>`select count(*) as n, sum(a) as s from bulk_t`.execute(
      t.db,
    );
    expect(Number(r.rows[0]!.n)).toBe(n);
    expect(Number(r.rows[0]!.s)).toBe((n * (n - 1)) / 2);
    const last = await sql<{ b: string | null }>`select b from bulk_t where a = ${n - 1}`.execute(t.db);
    expect(last.rows[0]!.b).toBe(`r${n - 1}`);
  });

  it('takes row objects, a missing value as NULL, and nothing for no rows', async () => {
    await insertObjects<{ a: number; b?: string }>(
      t.db,
      'bulk_t',
      ['a', 'b'],
      [{ a: -1 }, { a: -2, b: 'x' }],
    );
    await insertObjects<{ a: number }>(t.db, 'bulk_t', ['a'], []);
    const r = await sql<{
      a: number;
      b: string | null;
    }>`select a, b from bulk_t where a < 0 order by a`.execute(t.db);
    expect(r.rows.map((x) => [Number(x.a), x.b])).toEqual([
      [-2, 'x'],
      [-1, null],
    ]);
  });

  it('refuses parameters that are not whole rows', async () => {
    await expect(insertFlat(t.db, 'bulk_t', ['a', 'b'], [1, 'x', 2])).rejects.toThrow(/whole rows/);
  });
});
