import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { isAppError } from '../../src/lib/errors.js';
import { type Actors, createActors, ensureAdmin } from '../../src/modules/actors/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { tableRecorder } from './support.js';

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${String(e)}`;
  }
  return 'resolved';
}

describeEachDialect('actors', (dialect) => {
  let d: TestDatabase;
  let actors: Actors;
  let audit: Awaited<ReturnType<typeof tableRecorder>>;
  const clock = fixedClock('2025-03-10T02:00:00Z');

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    audit = await tableRecorder(d.db);
    actors = createActors({
      db: d.db,
      dialect,
      clock,
      record: audit.record,
      resolveSubjects: async (ext) =>
        new Map(ext.filter((e) => e.startsWith('CRM-')).map((e) => [e, `sub_${e.slice(4).toLowerCase()}`])),
    });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  describe('actors and keys', () => {
    it('ensureAdmin creates the first administrator once and shows its key once', async () => {
      const first = await ensureAdmin(actors);
      expect(first.created).toBe(true);
      expect(first.apiKey).toMatch(/^ctk_/);
      expect(first.actor.roles).toEqual(['admin']);
      const again = await ensureAdmin(actors);
      expect(again).toEqual({ created: false, actor: first.actor });
      expect(await actors.authenticate(first.apiKey!)).toMatchObject({
        id: first.actor.id,
        roles: ['admin'],
      });
    });

    it('creates an actor with roles and attributes; records actor.created without its name', async () => {
      const { actor, apiKey } = await actors.create(
        {
          name: 'emp-0042',
          kind: 'employee',
          roles: ['telemarketing', 'telemarketing', 'approver'],
          attributes: { region: 'east', department: 'sales' },
        },
        { by: 'act_boss' },
      );
      expect(actor).toMatchObject({
        name: 'emp-0042',
        kind: 'employee',
        roles: ['approver', 'telemarketing'],
        status: 'active',
        createdBy: 'act_boss',
      });
      expect(actor.id).toMatch(/^act_/);
      expect(await actors.authenticate(apiKey)).toEqual({
        id: actor.id,
        kind: 'employee',
        roles: ['approver', 'telemarketing'],
        attributes: { region: 'east', department: 'sales' },
        since: actor.createdAt,
      });
      const [ev] = (await audit.events('actor.created')).filter((e) => e.attrs.target === actor.id);
      expect(ev).toMatchObject({
        actor: 'act_boss',
        attrs: { target: actor.id, kind: 'employee', roles: ['approver', 'telemarketing'] },
      });
      expect(JSON.stringify(ev)).not.toContain('emp-0042');
      expect(await actors.get('emp-0042')).toEqual(actor);
      expect(await actors.get(actor.id)).toEqual(actor);
    });

    it('refuses a taken name and bad input, changing nothing', async () => {
      const before = (await actors.list()).length;
      expect(await code(actors.create({ name: 'emp-0042', kind: 'employee', roles: [] }, { by: null }))).toBe(
        'ACTORS_NAME_TAKEN',
      );
      expect(await code(actors.create({ name: 'x y', kind: 'employee', roles: [] }, { by: null }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(await code(actors.create({ name: 'ok', kind: 'robot' as never, roles: [] }, { by: null }))).toBe(
        'VALIDATION_FAILED',
      );
      expect(
        await code(actors.create({ name: 'ok', kind: 'employee', roles: ['Tele Marketing'] }, { by: null })),
      ).toBe('VALIDATION_FAILED');
      expect((await actors.list()).length).toBe(before);
      expect(await code(actors.get('nobody'))).toBe('ACTORS_NOT_FOUND');
    });

    it('lists by role, kind and status', async () => {
      await actors.create({ name: 'svc-phone', kind: 'service', roles: ['contact_service'] }, { by: null });
      expect((await actors.list({ role: 'contact_service' })).map((a) => a.name)).toEqual(['svc-phone']);
      expect((await actors.list({ kind: 'service' })).map((a) => a.name)).toEqual(['svc-phone']);
      expect((await actors.list({ status: 'disabled' })).length).toBe(0);
    });

    it('updates roles and attributes; authentication sees the change at once', async () => {
      const { actor, apiKey } = await actors.create(
        { name: 'emp-upd', kind: 'employee', roles: ['support'] },
        { by: null },
      );
      await actors.update(
        actor.id,
        { roles: ['billing'], attributes: { region: 'west' } },
        { by: 'act_boss' },
      );
      expect(await actors.authenticate(apiKey)).toMatchObject({
        roles: ['billing'],
        attributes: { region: 'west' },
      });
      expect((await audit.events('actor.updated')).at(-1)).toMatchObject({
        attrs: { target: actor.id, roles: ['billing'], attributes: ['region'] },
      });
    });

    it('disabling stops every key of the actor and is recorded', async () => {
      const { actor, apiKey } = await actors.create(
        { name: 'emp-leaver', kind: 'employee', roles: ['support'] },
        { by: null },
      );
      const disabled = await actors.disable('emp-leaver', { by: 'act_boss' });
      expect(disabled).toMatchObject({ status: 'disabled', disabledAt: clock.now().toISOString() });
      expect(await actors.authenticate(apiKey)).toBeUndefined();
      expect((await actors.keys(actor.id)).every((k) => k.revokedAt !== null)).toBe(true);
      expect((await audit.events('actor.disabled')).at(-1)).toMatchObject({
        actor: 'act_boss',
        attrs: { target: actor.id, keysRevoked: 1 },
      });
      expect(await code(actors.rotateKey(actor.id, { by: null }))).toBe('ACTORS_DISABLED');
      // Idempotent.
      expect((await actors.disable(actor.id, { by: null })).status).toBe('disabled');
    });

    it('never leaves the system without an active administrator', async () => {
      const [admin] = await actors.list({ role: 'admin', status: 'active' });
      expect(await code(actors.disable(admin!.id, { by: null }))).toBe('ACTORS_LAST_ADMIN');
      expect(await code(actors.update(admin!.id, { roles: ['auditor'] }, { by: null }))).toBe(
        'ACTORS_LAST_ADMIN',
      );
      const second = await actors.create(
        { name: 'admin-2', kind: 'employee', roles: ['admin'] },
        { by: null },
      );
      await actors.update(admin!.id, { roles: ['admin', 'auditor'] }, { by: null });
      expect((await actors.disable(second.actor.id, { by: null })).status).toBe('disabled');
    });

    it('rotation retires the old key at once, or after a grace period', async () => {
      const { actor, apiKey: k1 } = await actors.create(
        { name: 'svc-crm', kind: 'service', roles: ['support'] },
        { by: null },
      );
      const r1 = await actors.rotateKey(actor.id, { by: actor.id });
      expect(r1).toMatchObject({ retired: 1, oldKeysExpireAt: null });
      expect(await actors.authenticate(k1)).toBeUndefined();
      expect(await actors.authenticate(r1.apiKey)).toMatchObject({ id: actor.id });

      const r2 = await actors.rotateKey(actor.id, { by: null, graceSeconds: 600 });
      expect(r2.retired).toBe(1);
      expect(await actors.authenticate(r1.apiKey)).toMatchObject({ id: actor.id });
      expect(await actors.authenticate(r2.apiKey)).toMatchObject({ id: actor.id });
      clock.advance(601_000);
      expect(await actors.authenticate(r1.apiKey)).toBeUndefined();
      expect(await actors.authenticate(r2.apiKey)).toMatchObject({ id: actor.id });
      expect((await audit.events('key.rotated')).at(-1)).toMatchObject({
        attrs: { target: actor.id, key: r2.keyId, retired: 1, graceSeconds: 600 },
      });

      await actors.revokeKey(r2.keyId, { by: null });
      expect(await actors.authenticate(r2.apiKey)).toBeUndefined();
      expect(await code(actors.revokeKey('nosuchkey', { by: null }))).toBe('ACTORS_KEY_NOT_FOUND');
      expect(await code(actors.rotateKey(actor.id, { by: null, graceSeconds: -1 }))).toBe(
        'VALIDATION_FAILED',
      );
    });

    it('an event the ledger refuses aborts the change with it (same transaction)', async () => {
      const failing = createActors({
        db: d.db,
        dialect,
        clock,
        record: (await tableRecorder(d.db, { failOn: 'actor.created' })).record,
      });
      await expect(
        failing.create({ name: 'emp-ghost', kind: 'employee', roles: [] }, { by: null }),
      ).rejects.toThrow(/refused/);
      expect(await code(actors.get('emp-ghost'))).toBe('ACTORS_NOT_FOUND');
    });
  });

  describe('assignments', () => {
    let tm: string;
    let other: string;
    beforeAll(async () => {
      tm = (await actors.create({ name: 'tm-1', kind: 'employee', roles: ['telemarketing'] }, { by: null }))
        .actor.id;
      other = (
        await actors.create({ name: 'tm-2', kind: 'employee', roles: ['telemarketing'] }, { by: null })
      ).actor.id;
    });

    it('assigns by actor id or name, with optional expiry; isAssigned follows', async () => {
      const at = clock.now();
      const r = await actors.assign(
        [
          { actor: tm, subjectId: 'sub_a' },
          { actor: 'tm-1', subjectId: 'sub_b', expiresAt: new Date(at.getTime() + 3_600_000).toISOString() },
          { actor: 'tm-2', subjectId: 'sub_a' },
        ],
        { by: 'act_boss' },
      );
      expect(r).toEqual({ assigned: 3, rejected: [] });
      expect(await actors.isAssigned(tm, 'sub_a', at)).toBe(true);
      expect(await actors.isAssigned(tm, 'sub_b', at)).toBe(true);
      expect(await actors.isAssigned(tm, 'sub_c', at)).toBe(false);
      expect(await actors.isAssigned(tm, 'sub_b', new Date(at.getTime() + 3_600_000))).toBe(false);
      expect(await actors.isAssigned(other, 'sub_b', at)).toBe(false);
      const events = (await audit.events('assignment.added')).slice(-2);
      expect(events.map((e) => e.attrs).sort((a: any, b: any) => a.count - b.count)).toEqual([
        { target: other, count: 1 },
        { target: tm, count: 2 },
      ]);
      expect((await actors.assignments({ actor: 'tm-1' })).map((a) => a.subjectId)).toEqual([
        'sub_a',
        'sub_b',
      ]);
      expect((await actors.assignments({ subjectId: 'sub_a' })).map((a) => a.actorId).sort()).toEqual(
        [tm, other].sort(),
      );
    });

    it('reports rows it cannot apply by line, applies the rest', async () => {
      const disabled = (await actors.create({ name: 'tm-gone', kind: 'employee', roles: [] }, { by: null }))
        .actor.id;
      await actors.disable(disabled, { by: null });
      const past = new Date(clock.now().getTime() - 1000).toISOString();
      const r = await actors.assign(
        [
          { line: 2, actor: 'nobody', subjectId: 'sub_x' },
          { line: 3, actor: disabled, subjectId: 'sub_x' },
          { line: 4, actor: tm, subjectId: 'bad id!' },
          { line: 5, actor: tm },
          { line: 6, actor: tm, subjectId: 'sub_x', externalId: 'CRM-1' },
          { line: 7, actor: tm, externalId: 'ERP-9' },
          { line: 8, actor: tm, subjectId: 'sub_x', expiresAt: 'tomorrow' },
          { line: 9, actor: tm, subjectId: 'sub_x', expiresAt: past },
          { line: 10, actor: tm, externalId: 'CRM-77' },
        ],
        { by: null },
      );
      expect(r).toEqual({
        assigned: 1,
        rejected: [
          { line: 2, code: 'UNKNOWN_ACTOR' },
          { line: 3, code: 'ACTOR_DISABLED' },
          { line: 4, code: 'INVALID_SUBJECT' },
          { line: 5, code: 'INVALID_SUBJECT' },
          { line: 6, code: 'INVALID_SUBJECT' },
          { line: 7, code: 'UNRESOLVED_SUBJECT' },
          { line: 8, code: 'INVALID_EXPIRY' },
          { line: 9, code: 'EXPIRED' },
        ],
      });
      expect(await actors.isAssigned(tm, 'sub_77', clock.now())).toBe(true);
    });

    it('removal ends the assignment; assigning again revives it', async () => {
      const at = clock.now();
      expect(
        await actors.unassign(
          [
            { actor: 'tm-2', subjectId: 'sub_a' },
            { actor: 'tm-2', subjectId: 'sub_never' },
          ],
          { by: null },
        ),
      ).toEqual({
        removed: 1,
        rejected: [],
      });
      expect(await actors.isAssigned(other, 'sub_a', at)).toBe(false);
      expect((await audit.events('assignment.removed')).at(-1)).toMatchObject({
        attrs: { target: other, count: 1 },
      });
      await actors.assign([{ actor: other, subjectId: 'sub_a' }], { by: null });
      expect(await actors.isAssigned(other, 'sub_a', at)).toBe(true);
    });

    it('bulk CSV of 12,000 rows (more than one statement can bind) in one call', async () => {
      const lines = ['actor,subject,expires_at'];
      for (let i = 0; i < 12_000; i++)
        lines.push(`${i % 2 ? 'tm-1' : 'tm-2'},sub_bulk${i},${i === 7 ? '2099-01-01T00:00:00Z' : ''}`);
      lines.push('tm-9,sub_zzz,');
      const r = await actors.assignCsv(lines.join('\n'), { by: null });
      expect(r.assigned).toBe(12_000);
      expect(r.rejected).toEqual([{ line: 12_002, code: 'UNKNOWN_ACTOR' }]);
      expect(await actors.isAssigned(other, 'sub_bulk0', clock.now())).toBe(true);
      expect(await actors.isAssigned(tm, 'sub_bulk11999', clock.now())).toBe(true);
      expect(await actors.isAssigned(tm, 'sub_bulk0', clock.now())).toBe(false);
      const removed = await actors.unassignCsv(lines.slice(0, 6001).join('\n'), { by: null });
      expect(removed.removed).toBe(6000);
    });

    it('refuses a batch above the limit before touching anything', async () => {
      const big = Array.from({ length: 100_001 }, () => ({ actor: tm, subjectId: 'sub_a' }));
      expect(await code(actors.assign(big, { by: null }))).toBe('ACTORS_BATCH_TOO_LARGE');
    });

    it("isAssigned reads inside the caller's transaction", async () => {
      await d.db.transaction().execute(async (trx) => {
        await trx
          .insertInto('assignments')
          .values({
            actor_id: tm,
            subject_id: 'sub_trx',
            assigned_at: clock.now().toISOString(),
            assigned_by: null,
            expires_at: null,
            removed_at: null,
          })
          .execute();
        expect(await actors.isAssigned(tm, 'sub_trx', clock.now(), trx)).toBe(true);
      });
    });
  });
});
