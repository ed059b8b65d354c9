/*
 * Threat: a disclosure made by someone whose job is not to make one, the file handed to the
 * employee who asked for it, a delivery (any format) picked up by anyone but the recipient's own
 * key (or picked up twice), data delivered for a customer who
 * withdrew between the request and the pick-up, and a gateway learning from a trip report what the
 * canary was planted in.
 */
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/app/http/index.js';
import { consentRoutes } from '../../src/modules/consent/index.js';
import { disclosureRoutes, type Recipient } from '../../src/modules/disclosure/index.js';
import { openSubjectsFields } from '../../src/modules/vault/index.js';
import { partnerNotice, silentLogger } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { defaultPermissions } from '../helpers/permissions.js';
import { disclosureSetup } from './fixtures.js';

const FIELDS = ['name', 'mobile', 'company'];

describeEachDialect('disclosure over HTTP', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let app: FastifyInstance;
  const keys: Record<string, string> = {};
  const actorIds: Record<string, string> = {};
  let ids: string[];
  let rcp: Recipient;

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    for (const [name, kind, roles] of [
      ['dpo', 'employee', ['privacy_officer']],
      ['pm', 'employee', ['partner_manager']],
      ['telemarketer', 'employee', ['telemarketing']],
      ['distributor', 'partner', ['partner']],
      ['other_partner', 'partner', ['partner']],
      ['gateway', 'service', ['canary_gateway']],
    ] as const) {
      const r = await s.actors.create({ name, kind, roles: [...roles] }, { by: null });
      keys[name] = r.apiKey;
      actorIds[name] = r.actor.id;
    }
    app = buildServer({
      logger: silentLogger,
      routes: [
        ...consentRoutes({ consent: s.consent, permissions: defaultPermissions }),
        ...disclosureRoutes({ disclosure: s.disclosure, permissions: defaultPermissions }),
      ],
      authenticate: (t) => s.actors.authenticate(t),
      health: async () => ({}),
      version: 'test',
    });
    ({ ids } = await s.customers(6));
    // The partner manager's disclose grant requires each customer to be assigned to him.
    await s.actors.assign(
      ids.map((subjectId) => ({ actor: actorIds.pm!, subjectId })),
      { by: null },
    );
  });
  afterAll(async () => {
    await app.close();
    await s.d.destroy();
  });

  const call = (who: string | null, method: 'GET' | 'POST' | 'PATCH', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      ...(who ? { headers: { authorization: `Bearer ${keys[who]}` } } : {}),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  it('the privacy officer registers the distributor with its own actor; others may not', async () => {
    const body = {
      name: 'Example Distribution Ltd.',
      contact: 'compliance@distribution.example',
      jurisdiction: 'CN',
      purposes: ['partner_referral'],
      contractRef: 'DPA-7',
      retentionDays: 90,
      actorId: actorIds.distributor,
    };
    expect((await call('pm', 'POST', '/v1/recipients', body)).statusCode).toBe(403);
    const created = await call('dpo', 'POST', '/v1/recipients', body);
    expect(created.statusCode).toBe(201);
    rcp = created.json();
    expect(rcp.status).toBe('pending');
    const enabled = await call('dpo', 'PATCH', `/v1/recipients/${rcp.id}`, { piaRef: 'PIA-7' });
    expect(enabled.json().status).toBe('enabled');
    const n = await s.consent.publishNotice(partnerNotice(rcp), null);
    for (const id of ids.slice(0, 5))
      await s.consent.grant(
        {
          subjectId: id,
          purpose: 'partner_referral',
          recipientId: rcp.id,
          fields: FIELDS,
          noticeId: n.id,
          method: 'web',
          separate: { thirdParty: true },
        },
        null,
      );
    s.clock.advance(1000);
  });

  it('refuses with the count and ids; a telemarketer may not disclose at all', async () => {
    const body = {
      recipientId: rcp.id,
      purpose: 'partner_referral',
      fields: FIELDS,
      subjectIds: ids,
      format: 'csv',
    };
    expect((await call('telemarketer', 'POST', '/v1/disclosures', body)).statusCode).toBe(403);
    const refused = await call('pm', 'POST', '/v1/disclosures', body);
    expect(refused.statusCode).toBe(409);
    expect(refused.json()).toMatchObject({
      code: 'DISCLOSURE_CONSENT_MISSING',
      details: { requested: 6, missing: 1, subjectIds: [ids[5]] },
    });
    // A PI-shaped "id" (a mobile pasted in) names nobody: refused by the decision, never repeated.
    const pasted = await call('pm', 'POST', '/v1/disclosures', {
      ...body,
      subjectIds: [...ids, '13912345678'],
    });
    expect(pasted.statusCode).toBe(403);
    expect(pasted.body).not.toContain('13912345678');
    const ok = await call('pm', 'POST', '/v1/disclosures', { ...body, consentedOnly: true });
    expect(ok.statusCode).toBe(201);
    // The employee gets the record only; the distributor's own key fetches the CSV.
    expect(Object.keys(ok.json())).toEqual(['disclosure']);
    expect(ok.json().disclosure).toMatchObject({ subjects: 5, excluded: 1, status: 'awaiting_pickup' });
    expect((await call('pm', 'GET', `/v1/disclosures/${ok.json().disclosure.id}/delivery`)).statusCode).toBe(
      404,
    );
    const file = await call('distributor', 'GET', `/v1/disclosures/${ok.json().disclosure.id}/delivery`);
    expect(file.statusCode).toBe(200);
    expect(file.headers['content-type']).toBe('text/csv; charset=utf-8');
    expect(file.body.split('\r\n')[0]).toBe('ref,name,mobile,company');
  });

  it('an API delivery is picked up once, by the recipient’s own key, consent checked at pick-up', async () => {
    const created = await call('pm', 'POST', '/v1/disclosures', {
      recipientId: rcp.id,
      purpose: 'partner_referral',
      fields: FIELDS,
      subjectIds: ids.slice(0, 5),
      format: 'api',
    });
    const d = created.json().disclosure;
    expect(d.status).toBe('awaiting_pickup');
    expect(created.json().content).toBeUndefined();

    // The customer withdraws before the partner picks up.
    await s.consent.withdraw(
      { subjectId: ids[0]!, purpose: 'partner_referral' },
      { by: null, method: 'web' },
    );
    s.clock.advance(1000);

    for (const who of ['other_partner', 'dpo', 'pm', null]) {
      const r = await call(who, 'GET', `/v1/disclosures/${d.id}/delivery`);
      expect([who, r.statusCode]).toEqual([who, who === null ? 401 : 404]);
    }
    const pulled = await call('distributor', 'GET', `/v1/disclosures/${d.id}/delivery`);
    expect(pulled.statusCode).toBe(200);
    expect(pulled.headers['content-type']).toBe('application/json; charset=utf-8');
    const doc = pulled.json();
    expect(doc.disclosure).toBe(d.id);
    const refs = doc.records.map((r: { ref: string }) => r.ref);
    expect(refs).not.toContain(s.disclosure.refFor(rcp.id, ids[0]!));
    expect(refs).toContain(s.disclosure.refFor(rcp.id, ids[1]!));
    expect(doc.records).toHaveLength(4 + d.canaries);
    const after = await s.disclosure.get(d.id);
    expect(after).toMatchObject({ status: 'delivered', withheld: 1 });
    expect(pulled.headers['x-content-sha256']).toBe(after.contentSha256);
    const items = await s.disclosure.items(d.id);
    expect(items.find((i) => i.subject_id === ids[0])!.delivered_at).toBeNull();

    const again = await call('distributor', 'GET', `/v1/disclosures/${d.id}/delivery`);
    expect([again.statusCode, again.json().code]).toEqual([409, 'DISCLOSURE_ALREADY_DELIVERED']);
  });

  it('the partner pulls and acknowledges its deletion notices; nobody else can', async () => {
    const mine = await call('distributor', 'GET', '/v1/deletion-notices');
    const notices = mine.json().notices;
    expect(notices).toHaveLength(1);
    expect(notices[0].payload.records[0].ref).toBe(s.disclosure.refFor(rcp.id, ids[0]!));
    expect((await call('other_partner', 'GET', '/v1/deletion-notices')).json().notices).toEqual([]);
    expect(
      (await call('other_partner', 'POST', `/v1/deletion-notices/${notices[0].id}/ack`)).statusCode,
    ).toBe(404);
    expect((await call('distributor', 'POST', `/v1/deletion-notices/${notices[0].id}/ack`)).statusCode).toBe(
      200,
    );
    expect((await call('distributor', 'GET', '/v1/deletion-notices')).json().notices).toEqual([]);
  });

  it('a gateway reports a trip and learns only that it matched', async () => {
    const [d] = await s.disclosure.list({ recipientId: rcp.id });
    const [c] = await s.disclosure.canaries.uniqueTo('disclosure', d!.id);
    const mobile = (await openSubjectsFields(s.vault, s.d.db, [c!.subjectId], ['mobile'])).values.get(
      c!.subjectId,
    )!.mobile!;
    const body = { channel: 'call', contact: mobile, at: '2024-03-02T10:00:00+08:00', from: '13912345678' };
    expect((await call('pm', 'POST', '/v1/canaries/trips', body)).statusCode).toBe(403);
    const r = await call('gateway', 'POST', '/v1/canaries/trips', body);
    expect(r.statusCode).toBe(202);
    expect(Object.keys(r.json()).sort()).toEqual(['matched', 'tripId']);
    expect(r.json().matched).toBe(true);
    const alerts = await s.detect.list({ kind: 'canary.tripped' });
    expect(alerts[0]!.attrs).toMatchObject({ disclosure: d!.id, recipient: rcp.id });
    const bad = await call('gateway', 'POST', '/v1/canaries/trips', { ...body, contact: 'not a contact' });
    expect([bad.statusCode, bad.json().code]).toEqual([400, 'CANARY_CONTACT_INVALID']);
  });
});
