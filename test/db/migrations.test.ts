import { afterAll, describe, expect, it } from 'vitest';
import { describeSchema, MigrationError, migrate, migrationChecksum } from '../../src/db/index.js';
import { migrations } from '../../src/db/migrations/index.js';
import {
  createTestDatabase,
  describeEachDialect,
  enabledDialects,
  type TestDatabase,
} from '../helpers/db.js';

describeEachDialect('migrations', (dialect) => {
  const dbs: TestDatabase[] = [];
  afterAll(async () => {
    for (const d of dbs) await d.destroy();
  });

  it('apply from empty, then are a no-op', async () => {
    const d = await createTestDatabase(dialect, { migrate: false });
    dbs.push(d);
    const first = await migrate(d);
    expect(first.applied).toEqual(migrations.map((m) => m.name));
    const second = await migrate(d);
    expect(second.applied).toEqual([]);
  });

  it('refuse to start when a shipped migration changed', async () => {
    const d = await createTestDatabase(dialect);
    dbs.push(d);
    const changed = migrations.map((m, i) =>
      i === 0
        ? {
            name: m.name,
            up: async (db: any, dl: any) => {
              await m.up(db, dl);
              await db.schema.createTable('sneaky').addColumn('x', 'text').execute();
            },
          }
        : m,
    );
    await expect(migrate(d, changed)).rejects.toBeInstanceOf(MigrationError);
  });

  it('refuse a database migrated by a newer version', async () => {
    const d = await createTestDatabase(dialect);
    dbs.push(d);
    await expect(migrate(d, migrations.slice(0, -1))).rejects.toThrow(/newer/);
  });
});

describe('schema parity', () => {
  it('migrating from empty gives the same schema on every dialect', async () => {
    const dialects = enabledDialects();
    const schemas = [];
    for (const dialect of dialects) {
      const d = await createTestDatabase(dialect);
      schemas.push(await describeSchema(d));
      await d.destroy();
    }
    for (const s of schemas.slice(1)) expect(s).toEqual(schemas[0]);
    expect(Object.keys(schemas[0]!)).toContain('custodian_migrations');
  });

  it('checksums are stable and differ per migration', async () => {
    const a = await Promise.all(migrations.map((m) => migrationChecksum(m, 'sqlite')));
    const b = await Promise.all(migrations.map((m) => migrationChecksum(m, 'sqlite')));
    expect(a).toEqual(b);
  });
});
