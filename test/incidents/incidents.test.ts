import { afterAll, beforeAll, expect, it } from 'vitest';
import { ed25519Verify, sha256 } from '../../src/lib/crypto/index.js';
import { PIPL57_ITEMS } from '../../src/modules/incidents/index.js';
import { parseVkey, verifyInclusion } from '../../src/modules/ledger/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { createIncidentWorld, FACTS, type IncidentWorld } from './world.js';

const HOUR = 3_600_000;

/** Verifies a C2SP signed note against the ledger's verifier key (what an outsider would do). */
function verifyNote(note: string, vkey: string): string {
  const v = parseVkey(vkey);
  const [body, sigs] = note.split('\n\n') as [string, string];
  const line = sigs.trim().split('\n')[0]!;
  const [, name, b64] = /^— (\S+) (\S+)$/.exec(line)!;
  expect(name).toBe(v.name);
  const raw = Buffer.from(b64!, 'base64');
  expect(raw.readUInt32BE(0)).toBe(v.keyHash);
  expect(ed25519Verify(v.publicKey, Buffer.from(`${body}\n`, 'utf8'), raw.subarray(4))).toBe(true);
  return `${body}\n`;
}

describeEachDialect('incidents: from an alert to notices, scoped exactly from the ledger', (dialect) => {
  let w: IncidentWorld;
  let incidentId: string;
  let alertId: string;
  const readByInsider = new Set<string>();
  let insiderEvents = 0;

  beforeAll(async () => {
    w = await createIncidentWorld(dialect);
    const { app } = w;
    // The insider reads 12 customers between 10:00 and 12:00, four of them twice with other fields.
    for (const [i, s] of w.subjects.slice(0, 12).entries()) {
      w.clock.set(new Date(Date.parse('2025-03-10T02:00:00Z') + i * 10 * 60_000));
      const r = await app.access.read(w.insider.principal, {
        subjectId: s,
        purpose: 'customer_support',
        fields: ['name', 'mobile'],
      });
      expect(r.allowed).toBe(true);
      readByInsider.add(s);
      insiderEvents++;
      if (i % 3 === 0) {
        await app.access.read(w.insider.principal, {
          subjectId: s,
          purpose: 'customer_support',
          fields: ['company'],
        });
        insiderEvents++;
      }
    }
    // A denied attempt (unknown purpose) by the insider: nothing was read, it is not in the scope.
    await app.access.read(w.insider.principal, {
      subjectId: w.subjects[20]!,
      purpose: 'no_such_purpose',
      fields: ['name'],
    });
    // The bystander reads others: not in the scope.
    for (const s of w.subjects.slice(12, 17))
      await app.access.read(w.bystander.principal, {
        subjectId: s,
        purpose: 'customer_support',
        fields: ['name'],
      });
    await app.access.drain();
    w.clock.set('2025-03-10T04:30:00.000Z');
    alertId = await app.database.db
      .transaction()
      .execute((trx) =>
        app.detect.raise(trx, { kind: 'volume.unusual', severity: 'high', actor: w.insider.id }),
      );
    w.clock.set('2025-03-10T05:00:00.000Z');
  });
  afterAll(async () => w?.destroy());

  it('opens from an alert; the clocks start when the alert was raised', async () => {
    const res = await w.http.inject({
      method: 'POST',
      url: '/v1/incidents',
      headers: { authorization: `Bearer ${w.dpo.key}` },
      payload: { title: 'Insider reads beyond duties', source: 'alert', sourceRef: alertId },
    });
    expect(res.statusCode).toBe(201);
    const d = res.json();
    incidentId = d.id;
    expect(d.awareAt).toBe('2025-03-10T04:30:00.000Z');
    expect(d.grade).toBe('general');
    expect(d.clocks.map((c: { name: string }) => c.name)).toEqual(['gdpr_authority']);
    expect(d.clocks[0].dueAt).toBe('2025-03-13T04:30:00.000Z');
    expect(d.clocks[0].leftMs).toBe(71.5 * HOUR);
  });

  it('refuses anyone outside the privacy team, without saying why', async () => {
    for (const who of [w.insider, w.admin]) {
      const res = await w.http.inject({
        method: 'GET',
        url: '/v1/incidents',
        headers: { authorization: `Bearer ${who.key}` },
      });
      expect(res.statusCode).toBe(403);
      expect(res.body).not.toMatch(/privacy_officer|security|auditor/);
    }
  });

  it('scopes exactly the customers the insider read, signed with the ledger key', async () => {
    const s = await w.app.incidents.scope(incidentId, { actors: [w.insider.id] }, w.dpo.id);
    expect(s.affected).toBe(readByInsider.size);
    expect(s.events).toBe(insiderEvents);
    expect(s.fields).toEqual({ name: 12, mobile: 12, company: 4 });
    const body = verifyNote(s.signedNote, w.app.ledger.vkey());
    expect(body).toContain(`affected ${readByInsider.size}\n`);
    expect(body).toContain(`list-sha256 ${s.listSha256}\n`);
    const page = await w.app.incidents.affected(incidentId);
    expect(new Set(page.subjects.map((a) => a.subject))).toEqual(readByInsider);
    expect(sha256(Buffer.from(page.subjects.map((a) => a.line).join(''), 'utf8')).toString('hex')).toBe(
      s.listSha256,
    );
  });

  it('gives inclusion proofs for the scoped events that verify against the tree', async () => {
    await w.app.ledger.integrate();
    const subject = w.subjects[0]!;
    const proofs = await w.app.incidents.proofs(incidentId, subject);
    expect(proofs).toHaveLength(2);
    for (const p of proofs) {
      expect(p.proof).not.toBeNull();
      expect(
        verifyInclusion({
          index: p.proof!.index,
          size: p.proof!.size,
          leafHash: Buffer.from(p.leafHash, 'hex'),
          proof: p.proof!.proof.map((h) => Buffer.from(h, 'hex')),
          root: Buffer.from(p.proof!.root, 'hex'),
        }),
      ).toBe(true);
    }
  });

  it('narrows and widens the scope, each change recorded', async () => {
    const narrow = await w.app.incidents.scope(
      incidentId,
      { actors: [w.insider.id], until: '2025-03-10T03:00:00.000Z' },
      w.dpo.id,
      'only the first hour was exported',
    );
    expect(narrow.change).toBe('narrow');
    expect(narrow.affected).toBe(6);
    expect(narrow.removed).toBe(6);
    const wide = await w.app.incidents.scope(
      incidentId,
      { actors: [w.insider.id, w.bystander.id] },
      w.dpo.id,
    );
    expect(wide.change).toBe('widen');
    expect(wide.affected).toBe(17);
    expect(wide.added).toBe(11);
    const back = await w.app.incidents.scope(
      incidentId,
      { actors: [w.insider.id] },
      w.dpo.id,
      'bystander cleared',
    );
    expect(back.affected).toBe(12);
    const tl = await w.app.incidents.timeline(incidentId);
    expect(tl.filter((t) => t.kind === 'scope_changed').map((t) => t.detail.change)).toEqual([
      'narrow',
      'widen',
      'narrow',
    ]);
    expect(tl.every((t) => /^[0-9a-f]{64}$/.test(t.leafHash))).toBe(true);
  });

  it('drafts a regulator notice that lists what is missing, then carries every PIPL 57 item', async () => {
    const first = await w.app.incidents.draft(incidentId, 'regulator', w.dpo.id);
    expect(first.draft.missing).toEqual(['cause', 'harm', 'measures', 'advice', 'contact']);
    expect(first.draft.pipl57.categories).toEqual([
      'company name',
      'mobile phone number',
      'name (person_name)',
    ]);
    const refused = await w.http.inject({
      method: 'POST',
      url: `/v1/incidents/${incidentId}/notify`,
      headers: { authorization: `Bearer ${w.dpo.key}` },
      payload: { action: 'submit', noticeId: first.id },
    });
    expect(refused.statusCode).toBe(409);
    expect(refused.json().code).toBe('INCIDENTS_NOTICE_INCOMPLETE');
    await w.app.incidents.setFacts(incidentId, FACTS, w.dpo.id);
    const { id, draft } = await w.app.incidents.draft(incidentId, 'regulator', w.dpo.id);
    expect(draft.missing).toEqual([]);
    for (const k of PIPL57_ITEMS) expect(draft.pipl57[k]).toBeTruthy();
    expect(draft.report?.affectedPeople).toBe(12);
    const d = await w.app.incidents.submit(incidentId, id, w.dpo.id);
    const gdpr = d.clocks.find((c) => c.name === 'gdpr_authority')!;
    expect(gdpr.status).toBe('met');
    expect(gdpr.leftMs).toBe(71.5 * HOUR);
  });

  it('notifies each affected customer in batches through the access path and the gateway', async () => {
    const r = await w.app.incidents.notifyIndividuals(incidentId, w.dpo.id, { batchSize: 5 });
    expect(r).toMatchObject({ batches: 3, sent: 12, failed: 0, no_contact: 0 });
    expect(w.gateway.sent).toHaveLength(12);
    expect(new Set(w.gateway.sent.map((m) => m.tag))).toEqual(new Set([`incident:${incidentId}`]));
    // Every contact point was read through the access module, recorded, as the notifier system actor.
    const ev = await w.app.access.actorEvents('svc_incident_notifier');
    expect(
      ev
        .filter((e) => e.purpose === 'breach_notification' && e.allowed)
        .map((e) => e.subject)
        .sort(),
    ).toEqual([...readByInsider].sort());
    // The portal's view: one notice for an affected customer, none for another.
    const mine = await w.app.incidents.noticesFor(w.subjects[0]!);
    expect(mine).toHaveLength(1);
    expect(mine[0]!.text).toContain(FACTS.contact);
    expect(await w.app.incidents.noticesFor(w.subjects[25]!)).toEqual([]);
    // A second run sends nothing more.
    const again = await w.app.incidents.notifyIndividuals(incidentId, w.dpo.id, { batchSize: 5 });
    expect(again.sent).toBe(0);
    expect(w.gateway.sent).toHaveLength(12);
  });

  it('takes actions through the owning modules and records them', async () => {
    const res = await w.http.inject({
      method: 'POST',
      url: `/v1/incidents/${incidentId}/actions`,
      headers: { authorization: `Bearer ${w.dpo.key}` },
      payload: { kind: 'suspend_actor', target: w.insider.id, note: 'scope confirmed' },
    });
    expect(res.statusCode).toBe(200);
    expect(res.json().outcome).toBe('done');
    // Detection's suspension: effective on his very next read.
    expect(await w.app.detect.isSuspended(w.insider.id)).toBe(true);
    w.clock.advance(60_000);
    const failed = await w.http.inject({
      method: 'POST',
      url: `/v1/incidents/${incidentId}/actions`,
      headers: { authorization: `Bearer ${w.dpo.key}` },
      payload: { kind: 'disable_recipient', target: 'rcp_missing' },
    });
    expect(failed.statusCode).toBe(404);
    const d = await w.app.incidents.get(incidentId);
    expect(d.actions.map((a) => [a.kind, a.outcome])).toEqual([
      ['suspend_actor', 'done'],
      ['disable_recipient', 'failed'],
    ]);
    // A scope over the suspended accounts finds the insider's customers.
    const s = await w.app.incidents.scope(incidentId, { suspendedActors: true }, w.dpo.id);
    expect(s.affected).toBe(12);
  });

  it('renders a printable report with every section, escaped', async () => {
    await w.app.incidents.setFacts(
      incidentId,
      { description: 'Reads <script>alert(1)</script> beyond duties' },
      w.dpo.id,
    );
    const res = await w.http.inject({
      method: 'GET',
      url: `/v1/incidents/${incidentId}/report`,
      headers: { authorization: `Bearer ${w.dpo.key}` },
    });
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/text\/html/);
    expect(res.body).toContain('@media print');
    expect(res.body).not.toContain('<script>');
    expect(res.body).toContain('&lt;script&gt;');
    for (const h of [
      'Legal clocks',
      'Scope',
      'Notices',
      'Actions taken',
      'Timeline',
      'custodian/incident-scope/v1',
    ])
      expect(res.body).toContain(h);
  });

  it('closes only once the individuals decision is made; the final-report clock starts', async () => {
    const other = await w.app.incidents.open({ title: 'Lost laptop', source: 'manual' }, w.dpo.id);
    await expect(w.app.incidents.close(other.id, w.dpo.id)).rejects.toMatchObject({
      code: 'INCIDENTS_DECISION_PENDING',
    });
    await expect(w.app.incidents.notToNotify(other.id, '  ', w.dpo.id)).rejects.toMatchObject({
      code: 'INCIDENTS_REASON_REQUIRED',
    });
    await w.app.incidents.notToNotify(
      other.id,
      'Disk encrypted; key not on the laptop (GDPR 34(3)(a))',
      w.dpo.id,
    );
    const closed = await w.app.incidents.close(other.id, w.dpo.id);
    expect(closed.status).toBe('closed');
    expect(closed.individuals).toEqual({
      decision: 'not_notify',
      reason: 'Disk encrypted; key not on the laptop (GDPR 34(3)(a))',
    });
    // The register keeps every incident, notified or not, with paging.
    const p1 = await w.http.inject({
      method: 'GET',
      url: '/v1/incidents?limit=1',
      headers: { authorization: `Bearer ${w.dpo.key}` },
    });
    expect(p1.json().total).toBe(2);
    const p2 = await w.http.inject({
      method: 'GET',
      url: `/v1/incidents?limit=1&cursor=${p1.json().nextCursor}`,
      headers: { authorization: `Bearer ${w.dpo.key}` },
    });
    expect([p1.json().incidents[0].id, p2.json().incidents[0].id].sort()).toEqual(
      [incidentId, other.id].sort(),
    );
    expect(p2.json().nextCursor).toBeNull();
  });
});
