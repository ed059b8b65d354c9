/*
 * Threat: a rights request that silently runs past its legal deadline, or is refused without the
 * reasons and remedies the subject is owed (PIPL art. 50); a correction or deletion that never
 * reaches the third parties that received the data (GDPR art. 19). Every deadline rule is checked
 * here with a fixed clock through the real service and database.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { createFakeGateway } from '../../src/lib/messaging/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect } from '../helpers/db.js';

const DAY = 86_400_000;

describeEachDialect('rights requests on a clock', (dialect) => {
  let app: TestApp;
  let subjectId: string;
  const officer = 'act_officer';
  const clock = fixedClock('2026-03-01T00:00:00.000Z');

  beforeAll(async () => {
    app = await createTestApp(dialect, { clock, app: { messaging: createFakeGateway() } });
    subjectId = (await app.vault.create({ fields: { name: '李明', mobile: '13800138000' } })).id;
  });
  afterAll(async () => {
    await app?.destroy();
  });

  it('CN default: due in 30 days; pause and resume move the due date by the paused time', async () => {
    clock.set('2026-03-01T00:00:00.000Z');
    const r = await app.rights.requests.file({
      subjectId,
      kind: 'access',
      requester: 'subject',
      filedBy: null,
    });
    expect(r.dueAt).toBe('2026-03-31T00:00:00.000Z');
    await app.rights.requests.assign(r.id, officer, officer);
    clock.advance(5 * DAY);
    const p = await app.rights.requests.pause(r.id, 'identity document needed', officer);
    expect(p.status).toBe('waiting_subject');
    const due = await app.rights.requests.due(new Date(clock.now().getTime() + 365 * DAY));
    expect(due.waiting.map((x) => x.id)).toContain(r.id);
    expect(due.due.map((x) => x.id)).not.toContain(r.id);
    clock.advance(7 * DAY);
    const resumed = await app.rights.requests.resume(r.id, officer);
    expect(resumed.status).toBe('in_progress');
    expect(resumed.dueAt).toBe('2026-04-07T00:00:00.000Z');
    await expect(app.rights.requests.extend(r.id, 'complex', officer)).rejects.toMatchObject({
      code: 'RIGHTS_EXTENSION_NOT_ALLOWED',
    });
    clock.advance(DAY);
    const done = await app.rights.requests.complete(r.id, officer, { summary: 'copy sent' });
    expect(done.status).toBe('completed');
    expect(done.late).toBe(false);
  });

  it('EU: one month, extended once by two months with a reason; a second extension is refused', async () => {
    clock.set('2026-01-31T12:00:00.000Z');
    const r = await app.rights.requests.file({
      subjectId,
      kind: 'portability',
      requester: 'subject',
      filedBy: null,
      jurisdiction: 'EU',
    });
    expect(r.dueAt).toBe('2026-02-28T12:00:00.000Z');
    await expect(app.rights.requests.extend(r.id, '', officer)).rejects.toMatchObject({
      code: 'RIGHTS_REASON_REQUIRED',
    });
    const e = await app.rights.requests.extend(r.id, 'many systems to export from', officer);
    expect(e.dueAt).toBe('2026-04-28T12:00:00.000Z');
    expect(e.outcome?.extensionReason).toBe('many systems to export from');
    await expect(app.rights.requests.extend(r.id, 'again', officer)).rejects.toMatchObject({
      code: 'RIGHTS_EXTENSION_NOT_ALLOWED',
    });
  });

  it('an extension after the first period has run out is refused', async () => {
    clock.set('2026-05-01T00:00:00.000Z');
    const r = await app.rights.requests.file({
      subjectId,
      kind: 'access',
      requester: 'subject',
      filedBy: null,
      jurisdiction: 'EU',
    });
    clock.set('2026-06-02T00:00:00.000Z');
    await expect(app.rights.requests.extend(r.id, 'too late now', officer)).rejects.toMatchObject({
      code: 'RIGHTS_EXTENSION_NOT_ALLOWED',
    });
  });

  it('a refusal carries reasons and the remedies (PIPL art. 50); answering late is marked', async () => {
    clock.set('2026-03-01T00:00:00.000Z');
    const r = await app.rights.requests.file({
      subjectId,
      kind: 'deletion',
      requester: 'subject',
      filedBy: null,
    });
    await expect(app.rights.requests.refuse(r.id, 'no', officer)).rejects.toMatchObject({
      code: 'RIGHTS_REASON_REQUIRED',
    });
    clock.set('2026-04-02T00:00:00.000Z');
    const x = await app.rights.requests.refuse(
      r.id,
      'Records kept under a legal retention duty (tax law).',
      officer,
    );
    expect(x.status).toBe('refused');
    expect(x.refusalReason).toContain('retention');
    expect(x.outcome?.remedies).toContain('12377');
    expect(x.late).toBe(true);
    await expect(app.rights.requests.complete(r.id, officer)).rejects.toMatchObject({
      code: 'RIGHTS_STATE_INVALID',
    });
  });

  it('relatives of a deceased person need evidence (PIPL art. 49)', async () => {
    await expect(
      app.rights.requests.file({ subjectId, kind: 'access', requester: 'relative', filedBy: officer }),
    ).rejects.toMatchObject({ code: 'RIGHTS_EVIDENCE_REQUIRED' });
    const r = await app.rights.requests.file({
      subjectId,
      kind: 'copy',
      requester: 'relative',
      filedBy: officer,
      evidenceRef: 'death-certificate-2026-0042',
    });
    expect(r.evidenceRef).toBe('death-certificate-2026-0042');
  });

  it('every state change is a ledger entry about the subject', async () => {
    await app.ledger.integrate();
    const size = await app.ledger.size();
    const entries = [];
    for (let i = 0; i < size; i += 1000) entries.push(...(await app.ledger.entries(i, 1000)));
    const kinds = entries.filter((e) => e.event.subject === subjectId).map((e) => e.event.kind);
    for (const k of ['received', 'assigned', 'paused', 'resumed', 'extended', 'refused', 'completed'])
      expect(kinds).toContain(`rights.request.${k}`);
  });
});
