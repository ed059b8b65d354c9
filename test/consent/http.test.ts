import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { buildServer } from '../../src/app/http/index.js';
import { consentRoutes } from '../../src/modules/consent/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { defaultPermissions } from '../helpers/permissions.js';
import { consentSetup, generalNotice, partnerNotice, silentLogger } from './fixtures.js';

const RCP = { id: 'rcp_http', name: 'HTTP Partner Ltd.', contact: 'dpo@http-partner.example' };

describeEachDialect('consent over HTTP', (dialect) => {
  let s: Awaited<ReturnType<typeof consentSetup>>;
  let app: FastifyInstance;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    s = await consentSetup(dialect);
    for (const [name, kind, roles] of [
      ['dpo', 'employee', ['privacy_officer']],
      ['portal', 'service', ['portal']],
      ['auditor', 'employee', ['auditor']],
      ['telemarketer', 'employee', ['telemarketing']],
    ] as const)
      keys[name] = (await s.actors.create({ name, kind, roles: [...roles] }, { by: null })).apiKey;
    app = buildServer({
      logger: silentLogger,
      routes: consentRoutes({ consent: s.consent, permissions: defaultPermissions }),
      authenticate: (t) => s.actors.authenticate(t),
      health: async () => ({}),
      version: 'test',
    });
  });
  afterAll(async () => {
    await app.close();
    await s.d.destroy();
  });

  const call = (who: string | null, method: 'GET' | 'POST', url: string, payload?: unknown) =>
    app.inject({
      method,
      url,
      ...(who ? { headers: { authorization: `Bearer ${keys[who]}` } } : {}),
      ...(payload !== undefined ? { payload: payload as object } : {}),
    });

  it('notices: the privacy officer publishes; others may not', async () => {
    const ok = await call('dpo', 'POST', '/v1/notices', partnerNotice(RCP));
    expect(ok.statusCode).toBe(201);
    expect(ok.json()).toMatchObject({ key: `referral-${RCP.id}`, version: 1, recipientId: RCP.id });
    const denied = await call('telemarketer', 'POST', '/v1/notices', generalNotice());
    expect(denied.statusCode).toBe(403);
    expect(denied.json().code).toBe('FORBIDDEN');
    const bad = await call('dpo', 'POST', '/v1/notices', {
      ...generalNotice(),
      text: 'too short but twenty+',
    });
    expect(bad.statusCode).toBe(400);
    expect(bad.json().code).toBe('CONSENT_NOTICE_INVALID');
    expect((await call(null, 'GET', '/v1/notices')).statusCode).toBe(401);
  });

  it('consents: the portal records and withdraws; receipts verify without a key', async () => {
    const notice = (await call('auditor', 'GET', `/v1/notices/referral-${RCP.id}@1`)).json();
    const granted = await call('portal', 'POST', '/v1/consents', {
      subjectId: 'sub_h1',
      purpose: 'partner_referral',
      recipientId: RCP.id,
      fields: ['name', 'mobile'],
      noticeId: notice.id,
      method: 'web',
      separate: { thirdParty: true },
    });
    expect(granted.statusCode).toBe(201);
    const { consent, receipt } = granted.json();
    expect(consent).toMatchObject({ subjectId: 'sub_h1', recordedBy: expect.stringMatching(/^act_/) });

    const verified = await call(null, 'POST', '/v1/consent-receipts/verify', { receipt });
    expect(verified.json()).toMatchObject({
      valid: true,
      publicKey: s.keyring.publicKeyRaw.toString('base64'),
    });
    const forged = { ...receipt, receipt: { ...receipt.receipt, fields: ['name', 'mobile', 'id_number'] } };
    expect((await call(null, 'POST', '/v1/consent-receipts/verify', { receipt: forged })).json().valid).toBe(
      false,
    );

    expect((await call('telemarketer', 'POST', '/v1/consents', {})).statusCode).toBe(400);
    const listed = await call('auditor', 'GET', '/v1/consents?subject=sub_h1');
    expect(listed.json().consents.map((c: { id: string }) => c.id)).toEqual([consent.id]);
    expect((await call('telemarketer', 'GET', '/v1/consents?subject=sub_h1')).statusCode).toBe(403);
    expect(
      (await call('auditor', 'GET', `/v1/consents/${consent.id}/receipt`)).json().receipt.consentId,
    ).toBe(consent.id);

    const withdrawn = await call('portal', 'POST', '/v1/consents/withdraw', {
      subjectId: 'sub_h1',
      purpose: 'partner_referral',
      method: 'web',
    });
    expect(withdrawn.statusCode).toBe(200);
    expect(withdrawn.json().withdrawn[0].withdrawnAt).toBeTruthy();
    const again = await call('portal', 'POST', '/v1/consents/withdraw', {
      consentId: consent.id,
      method: 'web',
    });
    expect([again.statusCode, again.json().code]).toEqual([409, 'CONSENT_NOT_ACTIVE']);
  });

  it('imports a CSV with a result per row', async () => {
    const notice = (await call('auditor', 'GET', `/v1/notices/referral-${RCP.id}@1`)).json();
    const csv = [
      'subject_id,purpose,recipient_id,fields,notice,method,given_at,third_party,evidence_ref',
      `sub_h2,partner_referral,${RCP.id},name,${notice.id},paper,2023-01-01T00:00:00Z,1,scan-9`,
      `sub_h3,partner_referral,${RCP.id},name,${notice.id},carrier-pigeon,2023-01-01T00:00:00Z,1,scan-10`,
    ].join('\n');
    const r = await call('dpo', 'POST', '/v1/consents/import', { csv });
    expect(r.statusCode).toBe(200);
    expect(r.json()).toMatchObject({ imported: 1, rejected: 1 });
    expect((await call('portal', 'POST', '/v1/consents/import', { csv })).statusCode).toBe(403);
  });
});
