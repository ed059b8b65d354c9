/*
 * Threat: an attacker, or anyone who reads error bodies later (a log pipeline, a proxy, a support
 * ticket with a pasted response), learns personal information from an error that echoes what the
 * caller sent: a mobile number put in a path, an e-mail address sent as a field name, an ID number
 * in a consent notice, a query parameter, a header. An error is a stable code and neutral details
 * (the position of a bad field, never its value). Every operation in /openapi.json is called with
 * PI-shaped values in every position — path parameters, query parameters (named and unknown), body
 * fields (schema-shaped, as values and as keys), request id, bearer token and cookie — without
 * credentials, with a bad one and with every role's key; then targeted requests reach the service
 * errors behind validation (unknown fields, unknown notices, lookups, consents, disclosures). No
 * error body may carry a PI shape, and the server's last guard (which masks one and counts it) must
 * not have had to fire: the fix is at the source.
 */

import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { looksLikePi, operations } from '../../scripts/fuzz-cases.mjs';
import { MASK, maskPiShapes, maskPiText } from '../../src/lib/pishape.js';
import { createWorld, ROLES, unthrottledHttp, type World } from '../access/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';

const MOBILE = '13912345678';
const ID_NUMBER = '11010519491231002X';
const EMAIL = 'leak.probe@example.cn';
// Raw, and dressed as the names and ids a schema lets through (a field name, a subject id), where
// a check further in might repeat them.
const PI = [
  MOBILE,
  ID_NUMBER,
  EMAIL,
  `+86${MOBILE}`,
  `x${MOBILE}`,
  `sub_${ID_NUMBER}`,
  `n_${MOBILE}`,
] as const;

type Schema = {
  type?: string | string[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, Schema>;
  additionalProperties?: Schema | boolean;
  items?: Schema;
  anyOf?: Schema[];
  oneOf?: Schema[];
  allOf?: Schema[];
};

/** A value shaped like `s` whose every free string (and key, where keys are free) is PI-shaped. */
function piShaped(s: Schema | undefined, k: number, depth = 0): unknown {
  const pi = PI[k % PI.length]!;
  if (!s || depth > 6) return pi;
  if (s.const !== undefined) return s.const;
  if (s.enum?.length) return s.enum[0];
  const alt = s.anyOf ?? s.oneOf;
  if (alt?.length) return piShaped(alt.find((a) => a.type !== 'null') ?? alt[0], k, depth + 1);
  if (s.allOf?.length) return piShaped(s.allOf[0], k, depth + 1);
  const type = Array.isArray(s.type) ? s.type.find((t) => t !== 'null') : s.type;
  switch (type) {
    case 'object': {
      const o: Record<string, unknown> = {};
      for (const [name, p] of Object.entries(s.properties ?? {})) o[name] = piShaped(p, k + 1, depth + 1);
      if (s.additionalProperties && typeof s.additionalProperties === 'object')
        o[PI[(k + 2) % PI.length]!] = piShaped(s.additionalProperties, k + 3, depth + 1);
      else if (!s.properties) o[pi] = pi;
      return o;
    }
    case 'array':
      return [piShaped(s.items, k, depth + 1), piShaped(s.items, k + 1, depth + 1)];
    case 'integer':
    case 'number':
      return Number(MOBILE);
    case 'boolean':
      return true;
    default:
      return pi;
  }
}

interface Op {
  method: string;
  path: string;
  params: string[];
  query: string[];
  body: boolean;
}

describeEachDialect('errors never echo PI the caller sent', (dialect) => {
  let w: World;
  let http: FastifyInstance;
  let ops: Op[];
  let bodies: Map<string, Schema | undefined>;
  let queries: Map<string, Record<string, Schema>>;
  const offending: string[] = [];
  let sent = 0;
  const statuses = new Map<number, number>();
  const codes = new Set<string>();

  beforeAll(async () => {
    w = await createWorld(dialect);
    // Limits high enough that requests reach the handlers (the limits have their own tests).
    http = await unthrottledHttp(w);
    const doc = (await http.inject({ method: 'GET', url: '/openapi.json' })).json();
    ops = operations(doc);
    bodies = new Map();
    queries = new Map();
    for (const [path, item] of Object.entries(doc.paths as Record<string, Record<string, any>>)) {
      for (const [method, op] of Object.entries(item)) {
        const key = `${method.toUpperCase()} ${path}`;
        bodies.set(key, op.requestBody?.content?.['application/json']?.schema);
        const q: Record<string, Schema> = {};
        for (const p of op.parameters ?? []) if (p.in === 'query') q[p.name] = p.schema;
        queries.set(key, q);
      }
    }
  }, 120_000);
  afterAll(async () => {
    await http?.close();
    await w?.destroy();
  });

  async function send(
    tag: string,
    req: { method: string; url: string; headers?: Record<string, string>; payload?: unknown },
  ) {
    const res = await http.inject({
      method: req.method as 'GET',
      url: req.url,
      headers: { 'x-request-id': MOBILE, ...req.headers },
      ...(req.payload !== undefined ? { payload: req.payload as string } : {}),
    });
    sent++;
    if (res.statusCode >= 400) codes.add(String(res.json().code));
    statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1);
    // A PI shape in the body, or the guard's mask (the guard caught an echo: a bug at the source).
    if (
      res.statusCode >= 400 &&
      (looksLikePi(res.body) || PI.some((v) => res.body.includes(v)) || res.body.includes(MASK))
    )
      offending.push(
        `${tag} ${req.method} ${req.url.slice(0, 90)} → ${res.statusCode} ${res.body.slice(0, 300)}`,
      );
    if (res.statusCode >= 400 && String(res.headers['x-request-id']) === MOBILE)
      offending.push(`${tag} request id echoed in the header`);
    return res;
  }

  it('every operation × every position × no key, a bad key and every role', async () => {
    const callers: [string, Record<string, string>][] = [
      ['anonymous', { cookie: `custodian_session=${EMAIL}; portal_session=${MOBILE}` }],
      ['bad-key', { authorization: `Bearer ${MOBILE}` }],
      ['bad-scheme', { authorization: `Basic ${EMAIL}` }],
      ...ROLES.map(
        (r) => [r, { authorization: `Bearer ${w.byRole[r].key}` }] as [string, Record<string, string>],
      ),
    ];
    let k = 0;
    for (const op of ops) {
      for (const [who, headers] of callers) {
        k++;
        const pi = PI[k % PI.length]!;
        const url = op.path.replace(/\{[^}]+\}/g, () => encodeURIComponent(PI[k++ % PI.length]!));
        const q = queries.get(`${op.method} ${op.path}`) ?? {};
        const qs = [
          ...Object.entries(q).map(([name, s]) => {
            const v = piShaped(s, k++);
            return `${name}=${encodeURIComponent(typeof v === 'string' ? v : JSON.stringify(v))}`;
          }),
          `${encodeURIComponent(EMAIL)}=${encodeURIComponent(ID_NUMBER)}`,
        ].join('&');
        const schema = bodies.get(`${op.method} ${op.path}`);
        const body = op.body || op.method !== 'GET' ? piShaped(schema ?? { type: 'object' }, k) : undefined;
        if (body && typeof body === 'object' && !Array.isArray(body))
          (body as Record<string, unknown>)[pi] = pi;
        await send(who, {
          method: op.method,
          url: `${url}?${qs}`,
          headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
          ...(body !== undefined ? { payload: JSON.stringify(body) } : {}),
        });
      }
    }
    expect(sent).toBeGreaterThan(ops.length * callers.length - 1);
    // The requests reached past authentication into validation and the services.
    expect((statuses.get(400) ?? 0) + (statuses.get(404) ?? 0) + (statuses.get(403) ?? 0)).toBeGreaterThan(
      ops.length,
    );
    expect(offending).toEqual([]);
  }, 300_000);

  describe('service errors behind validation', () => {
    const as = (role: (typeof ROLES)[number]) => ({ authorization: `Bearer ${w.byRole[role].key}` });
    const json = { 'content-type': 'application/json' };

    it('reads, lookups and subject ids', async () => {
      const s = w.subjects[0]!;
      for (const v of PI) {
        const e = encodeURIComponent(v);
        await send('read-field', {
          method: 'GET',
          url: `/v1/subjects/${s}?purpose=customer_support&fields=name,${e}`,
          headers: as('support'),
        });
        await send('read-purpose', {
          method: 'GET',
          url: `/v1/subjects/${s}?purpose=${e}&fields=name`,
          headers: as('support'),
        });
        await send('read-id', {
          method: 'GET',
          url: `/v1/subjects/${e}?purpose=customer_support&fields=name`,
          headers: as('support'),
        });
        await send('history', {
          method: 'GET',
          url: `/v1/subjects/${e}/access-history`,
          headers: as('privacy_officer'),
        });
        await send('lookup-field', {
          method: 'POST',
          url: '/v1/subjects/lookup',
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({ field: v, value: v, purpose: 'customer_support' }),
        });
        await send('lookup-value', {
          method: 'POST',
          url: '/v1/subjects/lookup',
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({ field: 'mobile', value: v, purpose: 'customer_support' }),
        });
        await send('batch', {
          method: 'POST',
          url: '/v1/subjects/read-batch',
          headers: { ...as('billing'), ...json },
          payload: JSON.stringify({ subjects: [s, v], purpose: 'billing', fields: ['name', v] }),
        });
        await send('create', {
          method: 'POST',
          url: '/v1/subjects',
          headers: { ...as('admin'), ...json },
          payload: JSON.stringify({ fields: { [v]: v, mobile: `x${v}`, email: `${v}@`, id_number: v } }),
        });
        await send('update', {
          method: 'PATCH',
          url: `/v1/subjects/${s}`,
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({ purpose: 'customer_support', fields: { [v]: v, mobile: `x${v}` } }),
        });
        await send('break-glass', {
          method: 'POST',
          url: `/v1/subjects/${e}/break-glass`,
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({ purpose: v, fields: [v], reason: `call ${v}` }),
        });
        await send('contact', {
          method: 'POST',
          url: '/v1/contact/resolve',
          headers: { ...as('contact_service'), ...json },
          payload: JSON.stringify({ token: v, tokens: [v] }),
        });
      }
    }, 120_000);

    it('consents, notices, recipients, disclosures, actors, policy, ledger', async () => {
      for (const v of PI) {
        const e = encodeURIComponent(v);
        await send('notice-get', { method: 'GET', url: `/v1/notices/${e}`, headers: as('privacy_officer') });
        await send('notice-publish', {
          method: 'POST',
          url: '/v1/notices',
          headers: { ...as('privacy_officer'), ...json },
          payload: JSON.stringify({
            key: v,
            language: v,
            text: `Write to ${EMAIL} or call ${MOBILE}; ID ${ID_NUMBER}.`,
            declarations: {
              processor: { name: `Shop ${v}`, contact: v },
              purposes: [{ purpose: v, basis: 'consent' }, { purpose: v }],
              fields: [v],
              thirdParty: { name: v, contact: v, purposes: [v], fields: [v] },
              sensitive: { fields: [v], necessity: v, impact: v },
            },
          }),
        });
        await send('consent-give', {
          method: 'POST',
          url: '/v1/consents',
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({
            subject: w.subjects[0],
            subjectId: w.subjects[0],
            notice: v,
            purpose: v,
            recipient: v,
            fields: [v],
            method: 'app',
            evidenceRef: v,
          }),
        });
        await send('consent-withdraw', {
          method: 'POST',
          url: '/v1/consents/withdraw',
          headers: { ...as('support'), ...json },
          payload: JSON.stringify({ subject: v, subjectId: v, purpose: v, recipient: v }),
        });
        await send('consent-list', {
          method: 'GET',
          url: `/v1/consents?subject=${e}&purpose=${e}`,
          headers: as('privacy_officer'),
        });
        await send('receipt', {
          method: 'GET',
          url: `/v1/consents/${e}/receipt`,
          headers: as('privacy_officer'),
        });
        await send('receipt-verify', {
          method: 'POST',
          url: '/v1/consent-receipts/verify',
          headers: { ...as('privacy_officer'), ...json },
          payload: JSON.stringify({ receipt: { subjectId: v, purpose: v }, signature: v }),
        });
        await send('recipient', {
          method: 'GET',
          url: `/v1/recipients/${e}`,
          headers: as('privacy_officer'),
        });
        await send('disclosure', {
          method: 'POST',
          url: '/v1/disclosures',
          headers: { ...as('privacy_officer'), ...json },
          payload: JSON.stringify({ recipient: v, purpose: v, subjects: [v], fields: [v], format: v }),
        });
        await send('actor', { method: 'GET', url: `/v1/actors/${e}`, headers: as('admin') });
        await send('actor-create', {
          method: 'POST',
          url: '/v1/actors',
          headers: { ...as('admin'), ...json },
          payload: JSON.stringify({ name: v, kind: 'employee', roles: [v], attributes: { [v]: v } }),
        });
        await send('assign', {
          method: 'POST',
          url: '/v1/assignments',
          headers: { ...as('admin'), ...json },
          payload: JSON.stringify({ entries: [{ actor: v, subject: v, externalId: v }] }),
        });
        await send('approval', {
          method: 'POST',
          url: '/v1/approvals',
          headers: { ...as('telemarketing'), ...json },
          payload: JSON.stringify({ purpose: v, subjects: 5, reason: v }),
        });
        await send('ledger-proof', {
          method: 'GET',
          url: `/v1/ledger/proof/inclusion?leaf=${e}&size=${e}`,
          headers: as('privacy_officer'),
        });
        await send('ledger-tile', {
          method: 'GET',
          url: `/v1/ledger/tile/0/${e}`,
          headers: as('privacy_officer'),
        });
      }
    }, 120_000);

    it('the requests reached the service errors that used to echo', () => {
      for (const c of [
        'ACCESS_UNKNOWN_FIELD',
        'VAULT_SUBJECT_NOT_FOUND',
        'CONSENT_NOTICE_NOT_FOUND',
        'VALIDATION_FAILED',
        'AUTH_INVALID',
      ])
        expect(codes, c).toContain(c);
    });

    it('the last guard never had to mask anything (the fix is at the source)', async () => {
      const metrics = (await http.inject({ method: 'GET', url: '/metrics' })).body;
      const fired = /custodian_http_error_pi_masked_total(?:\{[^}]*\})? (\d+)/.exec(metrics);
      expect(fired, 'the guard metric is exported').not.toBeNull();
      expect(Number(fired![1])).toBe(0);
    });
  });
});

describe('the last guard in the error mapper', () => {
  it('masks mobiles, ID numbers and e-mail addresses, and counts them', () => {
    const { value, masked } = maskPiShapes({
      message: `no subject ${MOBILE}`,
      list: [ID_NUMBER, 'fine', `+86 ${MOBILE}`],
      nested: { who: EMAIL, n: Number(MOBILE), ok: 42 },
    });
    expect(JSON.stringify(value)).not.toMatch(/13912345678|11010519491231002X|leak\.probe/);
    expect(masked).toBe(5);
    expect(maskPiShapes({ requestId: 'fd3eb70d-65b3-46a4-bb8f-19782178447a', size: 12 }).masked).toBe(0);
  });

  it('sees the same shapes as the fuzz run (scripts/fuzz-cases.mjs)', () => {
    const cases = [
      MOBILE,
      `+86 ${MOBILE}`,
      `x${MOBILE}`,
      `${MOBILE}0`,
      ID_NUMBER,
      ID_NUMBER.toLowerCase(),
      `A${ID_NUMBER}`,
      EMAIL,
      'no at sign',
      'fd3eb70d-65b3-46a4-bb8f-19782178447a',
      'a'.repeat(20) + '13912345678' + 'b'.repeat(20),
      '2026-12-06T01:48:20.048Z',
      '-6278952129658880',
      '{"explainedShare":0.047619047619047616}',
      '0.13912345678',
      `id ${ID_NUMBER}.`,
      'sub_abcdefghijklmnopqrstuvwxyz',
    ];
    for (const c of cases) expect(maskPiText(c).masked > 0, c).toBe(looksLikePi(c));
  });
});
