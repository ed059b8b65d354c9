import { createHash } from 'node:crypto';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { insertObjects, migrate } from '../../src/db/index.js';
import { migrations } from '../../src/db/migrations/index.js';
import { ACCESS_EVENT_COLUMNS } from '../../src/modules/access/index.js';
import type { IncidentAffectedChunkRow } from '../../src/modules/incidents/incidents.tables.js';
import { listLine } from '../../src/modules/incidents/index.js';
import { createTestDatabase, describeEachDialect } from '../helpers/db.js';
import { createIncidentWorld, FACTS, type IncidentWorld } from './world.js';

/*
 * Threat: an incident's list of affected customers that is wrong where nobody looks — a customer
 * missing or doubled at a storage boundary, a page that skips one, a notice run that stops at the
 * end of the first thousand, or rows of an older version lost in the migration to chunked storage.
 * The list is stored as chunks of 1,000 lines (migration 0019); these tests cross the boundaries and
 * check every line against the signed hash and every customer against the notices sent.
 */

const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex');

describeEachDialect('incident scope lists across chunk boundaries', (dialect) => {
  const N = 2_345;
  let w: IncidentWorld;
  let incidentId: string;

  beforeAll(async () => {
    w = await createIncidentWorld(dialect, N);
    // The insider's reads, written straight as access-event rows (one or two per customer): the
    // scope reads access_events only, and 2,345 reads through the access path would trip detection.
    const rows = w.subjects.flatMap((s, i) =>
      Array.from({ length: 1 + (i % 2) }, (_, k) => ({
        id: `evt_chunks_${i}_${k}`,
        at: new Date(Date.parse('2025-03-10T03:00:00.000Z') + i * 1000 + k).toISOString(),
        actor_id: w.insider.id,
        purpose: 'customer_support',
        subject_id: s,
        action: 'read',
        fields: JSON.stringify(k === 0 ? ['name'] : ['mobile', 'name']),
        views: JSON.stringify({ name: 'plain' }),
        allowed: 1,
        reasons: '[]',
        request_id: null,
        leaf_hash: 'ab'.repeat(32),
      })),
    );
    await insertObjects(w.app.database.db, 'access_events', ACCESS_EVENT_COLUMNS, rows);
    incidentId = (await w.app.incidents.open({ title: 'chunks', source: 'manual' }, w.dpo.id)).id;
  }, 120_000);
  afterAll(async () => w?.destroy());

  it('scopes every customer once, and the pages hash to the signed list', async () => {
    const s = await w.app.incidents.scope(incidentId, { actors: [w.insider.id] }, w.dpo.id);
    expect(s.affected).toBe(N);
    expect(s.events).toBe(N + Math.floor(N / 2));
    const lines: string[] = [];
    const seen: string[] = [];
    let after: string | undefined;
    for (;;) {
      // 700 a page: pages start and end inside chunks and straddle their boundaries.
      const page = await w.app.incidents.affected(incidentId, { limit: 700, ...(after ? { after } : {}) });
      if (page.subjects.length === 0) break;
      for (const a of page.subjects) {
        expect(a.line).toBe(listLine(a));
        lines.push(a.line);
        seen.push(a.subject);
      }
      after = page.subjects[page.subjects.length - 1]!.subject;
    }
    expect(seen).toEqual([...w.subjects].sort());
    expect(sha256(lines.join(''))).toBe(s.listSha256);
    const one = await w.app.incidents.affected(incidentId, { after: seen[999]!, limit: 2 });
    expect(one.subjects.map((a) => a.subject)).toEqual([seen[1000], seen[1001]]);
  });

  it('narrows across chunks and counts the change exactly', async () => {
    const s = await w.app.incidents.scope(
      incidentId,
      {
        actors: [w.insider.id],
        until: new Date(Date.parse('2025-03-10T03:00:00.000Z') + 1500 * 1000).toISOString(),
      },
      w.dpo.id,
    );
    expect(s.affected).toBe(1500);
    expect(s.change).toBe('narrow');
    expect(s.removed).toBe(N - 1500);
    const back = await w.app.incidents.scope(incidentId, { actors: [w.insider.id] }, w.dpo.id);
    expect(back.affected).toBe(N);
    expect(back.added).toBe(N - 1500);
  });

  it('notifies every affected customer once, in batches that cross chunks', async () => {
    await w.app.incidents.setFacts(incidentId, FACTS, w.dpo.id);
    const r = await w.app.incidents.notifyIndividuals(incidentId, w.dpo.id, { batchSize: 400 });
    expect(r.sent + r.no_contact + r.failed).toBe(N);
    expect(r.batches).toBe(Math.ceil(N / 400));
    const to = w.gateway.sent.map((m) => m.to);
    expect(new Set(to).size).toBe(to.length);
    const again = await w.app.incidents.notifyIndividuals(incidentId, w.dpo.id, { batchSize: 400 });
    expect(again.sent + again.no_contact + again.failed).toBe(0);
  }, 120_000);
});

describeEachDialect('migration 0019 carries the per-customer rows over as chunks', (dialect) => {
  it('the chunks of each version are its old rows as list lines, in order', async () => {
    const d = await createTestDatabase(dialect, { migrate: false });
    try {
      await migrate(d, migrations.slice(0, -1));
      const rows = [
        ...Array.from({ length: 2_001 }, (_, i) => ({
          incident_id: 'inc_a',
          version: 1,
          subject_id: `sub_${String((i * 7919) % 100_003).padStart(6, '0')}`,
          events: (i % 5) + 1,
          first_at: '2025-03-10T03:00:00.000Z',
          last_at: '2025-03-10T04:00:00.000Z',
          fields: JSON.stringify(i % 2 ? ['mobile', 'name'] : ['name']),
        })),
        {
          incident_id: 'inc_b',
          version: 2,
          subject_id: 'sub_x',
          events: 1,
          first_at: 'a',
          last_at: 'b',
          fields: '[]',
        },
      ];
      await insertObjects(
        d.db,
        'incident_affected',
        Object.keys(rows[0]!) as (keyof (typeof rows)[0])[],
        rows,
      );
      await migrate(d);
      const chunks = (await d.db
        .selectFrom('incident_affected_chunks' as never)
        .selectAll()
        .orderBy('incident_id' as never)
        .orderBy('chunk' as never)
        .execute()) as unknown as IncidentAffectedChunkRow[];
      const a = rows
        .filter((r) => r.incident_id === 'inc_a')
        .sort((x, y) => (x.subject_id < y.subject_id ? -1 : 1));
      const expected = a.map((r) =>
        listLine({
          subject: r.subject_id,
          events: r.events,
          firstAt: r.first_at,
          lastAt: r.last_at,
          fields: JSON.parse(r.fields),
        }),
      );
      const ca = chunks.filter((c) => c.incident_id === 'inc_a');
      expect(ca.map((c) => [c.chunk, c.subjects, c.first_subject, c.last_subject])).toEqual([
        [0, 1000, a[0]!.subject_id, a[999]!.subject_id],
        [1, 1000, a[1000]!.subject_id, a[1999]!.subject_id],
        [2, 1, a[2000]!.subject_id, a[2000]!.subject_id],
      ]);
      expect(ca.map((c) => c.lines).join('')).toBe(expected.join(''));
      const cb = chunks.filter((c) => c.incident_id === 'inc_b');
      expect(cb.map((c) => [Number(c.version), c.lines])).toEqual([[2, 'sub_x\t1\ta\tb\t\n']]);
    } finally {
      await d.destroy();
    }
  });
});
