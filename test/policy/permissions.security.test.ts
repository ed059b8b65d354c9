/*
 * Threat: "who may do what" lives in two places — the policy file for reads, role lists hard-coded
 * in routes for everything else — so an administrator who takes a permission away from a role in
 * the policy (or the access review that shows it) is silently contradicted by the code, and a role
 * keeps writing, erasing or reading incidents after the policy says it may not (issue 18, item 6;
 * over-broad-permissions-2019). Every route check outside the read path asks the active policy's
 * `permissions:` section; moving a permission in the file moves who is allowed, both ways, with
 * no restart, and the access review lists it.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { ensureAdmin } from '../../src/modules/actors/index.js';
import {
  DEFAULT_PERMISSIONS,
  defaultPolicyFile,
  isPermission,
  PERMISSIONS,
  parsePolicy,
  permitsAction,
} from '../../src/modules/policy/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect } from '../helpers/db.js';

const GUARDED = readFileSync(defaultPolicyFile(), 'utf8');
const LAX = readFileSync(join(defaultPolicyFile(), '..', 'lax.yaml'), 'utf8');

/** The routes of every module but disclosure (another change moves those) name their permissions. */
const ROUTE_FILES = [
  'access',
  'actors',
  'consent',
  'detect',
  'incidents',
  'ledger',
  'policy',
  'rights',
  'session',
  'trace',
].map((m) => join('src', 'modules', m, `${m}.routes.ts`));

it('the packaged policies state every permission, with exactly the default roles', () => {
  for (const text of [GUARDED, LAX]) {
    const doc = parsePolicy(text);
    expect(Object.keys(doc.permissions ?? {}).sort()).toEqual([...PERMISSIONS].sort());
    for (const p of PERMISSIONS) expect(doc.permissions?.[p], p).toEqual(DEFAULT_PERMISSIONS[p]);
  }
});

it('every action a route checks is a permission the policy knows; an unknown one is an error, not a deny', () => {
  const named = new Set<string>();
  for (const file of ROUTE_FILES) {
    const src = readFileSync(file, 'utf8');
    expect(src, file).not.toMatch(/roles\.(includes|some)\(/);
    for (const m of src.matchAll(/permissions\.(?:require|can)\(principal, '([^']+)'\)/g)) named.add(m[1]!);
  }
  for (const a of named) expect(isPermission(a), a).toBe(true);
  expect(named.size).toBeGreaterThanOrEqual(20);
  expect(() => permitsAction(undefined, ['admin'], 'subjects.wrte')).toThrow(/unknown permission/);
  expect(() => parsePolicy(GUARDED.replace('  traces.run:', '  traces.runn:'))).toThrow();
});

describeEachDialect('permissions come from the active policy file', (dialect) => {
  let app: TestApp;
  let http: FastifyInstance;
  const keys: Record<string, string> = {};

  beforeAll(async () => {
    app = await createTestApp(dialect, { clock: fixedClock('2025-03-10T02:00:00.000Z') });
    keys.admin = (await ensureAdmin(app.actors)).apiKey!;
    for (const [name, roles] of [
      ['auditor', ['auditor']],
      ['agent', ['support']],
      ['boss', ['approver']],
      ['dpo', ['privacy_officer']],
    ] as const) {
      keys[name] = (
        await app.actors.create({ name, kind: 'employee', roles: [...roles] }, { by: null })
      ).apiKey;
    }
    http = buildHttp(app);
    await http.ready();
  });
  afterAll(async () => {
    await http?.close();
    await app?.destroy();
  });

  const call = (method: 'GET' | 'POST', url: string, who: string, payload?: object) =>
    http.inject({
      method,
      url,
      headers: { authorization: `Bearer ${keys[who]}` },
      ...(payload ? { payload } : {}),
    });
  const status = async (method: 'GET' | 'POST', url: string, who: string, payload?: object) =>
    (await call(method, url, who, payload)).statusCode;
  const request = async (who: string) => {
    const r = await call('POST', '/v1/approvals', who, {
      purpose: 'telemarketing',
      subjects: 5,
      reason: 'a campaign needs more leads today',
    });
    expect(r.statusCode).toBe(201);
    return r.json().id as string;
  };

  it('moving a permission to another role moves who is allowed, in both directions', async () => {
    // The packaged policy: auditors read incidents and the access review; approvers decide.
    expect(await status('GET', '/v1/incidents', 'auditor')).toBe(200);
    expect(await status('GET', '/v1/incidents', 'agent')).toBe(403);
    expect(await status('GET', '/v1/policy/review', 'auditor')).toBe(200);
    const first = await request('agent');
    expect(await status('POST', `/v1/approvals/${first}/decision`, 'dpo', { approve: false })).toBe(403);
    expect(await status('POST', `/v1/approvals/${first}/decision`, 'boss', { approve: false })).toBe(200);

    const moved = GUARDED.replace('version: "2025.1"', 'version: "2025.1-moved"')
      .replace(
        'incidents.read: [privacy_officer, security, auditor]',
        'incidents.read: [privacy_officer, security, support]',
      )
      .replace('policy.read: [admin, privacy_officer, auditor]', 'policy.read: [admin, privacy_officer]')
      .replace('approvals.decide: [approver]', 'approvals.decide: [privacy_officer]');
    expect(moved).not.toBe(GUARDED);
    await app.policy.load(moved, { by: null });

    expect(await status('GET', '/v1/incidents', 'auditor')).toBe(403);
    expect(await status('GET', '/v1/incidents', 'agent')).toBe(200);
    const refused = await call('GET', '/v1/policy/review', 'auditor');
    expect(refused.statusCode).toBe(403);
    expect(refused.body).not.toMatch(/policy\.read|auditor|permission/);
    const second = await request('agent');
    expect(await status('POST', `/v1/approvals/${second}/decision`, 'boss', { approve: true })).toBe(403);
    expect(await status('POST', `/v1/approvals/${second}/decision`, 'dpo', { approve: true })).toBe(200);
    // Approvers no longer see every request; the privacy officer does.
    const own = await call('GET', '/v1/approvals', 'boss');
    expect(own.json().approvals).toEqual([]);
    expect((await call('GET', '/v1/approvals', 'dpo')).json().approvals.length).toBe(2);

    // The access review says who may do what, per role.
    const review = (await call('GET', '/v1/policy/review', 'dpo')).json();
    const of = (role: string) =>
      review.permissions.find((p: { role: string }) => p.role === role)?.actions ?? [];
    expect(of('support')).toEqual(['incidents.read']);
    expect(of('auditor')).not.toContain('incidents.read');
    expect(of('auditor')).not.toContain('policy.read');
    expect(of('privacy_officer')).toContain('approvals.decide');
    expect(of('approver')).toEqual(['suspensions.manage']);

    // A policy without a `permissions:` section gets the defaults back.
    const bare = GUARDED.replace('version: "2025.1"', 'version: "2025.1-bare"').replace(
      /# Who may do what outside the read path[\s\S]*?\n\n/,
      '',
    );
    expect(parsePolicy(bare).permissions).toBeUndefined();
    await app.policy.load(bare, { by: null });
    expect(await status('GET', '/v1/incidents', 'auditor')).toBe(200);
    expect(await status('GET', '/v1/incidents', 'agent')).toBe(403);
    expect(await status('GET', '/v1/policy/review', 'auditor')).toBe(200);
  });
});
