import { sql } from 'kysely';
import { afterAll, expect, it } from 'vitest';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';

/*
 * Threat: an insider with database access rewrites the record of who read what. Access events are
 * append-only: UPDATE, DELETE and (on SQLite) INSERT OR REPLACE over an existing row are refused by
 * the database itself, whatever path the statement comes from.
 */
describeEachDialect('append-only access events', (dialect) => {
  let d: TestDatabase;
  afterAll(async () => d?.destroy());

  it('refuse update, delete and replace', async () => {
    d = await createTestDatabase(dialect);
    const row = {
      id: 'evt_1',
      at: '2026-01-01T00:00:00.000Z',
      actor_id: 'act_1',
      purpose: 'billing',
      subject_id: 'sub_1',
      action: 'read',
      fields: '[]',
      views: '{}',
      allowed: 1,
      reasons: '[]',
      request_id: null,
      leaf_hash: 'aa',
    };
    await d.db.insertInto('access_events').values(row).execute();
    await expect(d.db.updateTable('access_events').set({ allowed: 0 }).execute()).rejects.toThrow(
      /append-only/,
    );
    await expect(d.db.deleteFrom('access_events').execute()).rejects.toThrow(/append-only/);
    if (dialect === 'sqlite') {
      await expect(
        sql`INSERT OR REPLACE INTO access_events (id, at, actor_id, purpose, subject_id, action, fields, views, allowed, reasons, request_id, leaf_hash)
            VALUES ('evt_1', 'x', 'act_2', 'billing', 'sub_1', 'read', '[]', '{}', 0, '[]', null, 'bb')`.execute(
          d.db,
        ),
      ).rejects.toThrow(/append-only/);
    }
    const rows = await d.db.selectFrom('access_events').selectAll().execute();
    expect(rows).toEqual([row]);
  });
});
