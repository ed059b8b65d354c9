/*
 * `serve --demo` (npm start): the demo organisation loads once, through the services, and leaves
 * working keys behind.
 *
 * Threat: demo keys readable by other users of the machine, a second start that loads the
 * organisation twice (or mints new administrator keys), and a demo whose printed read does not work.
 */
import { statSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { DEMO_ROLES, loadDemo } from '../../src/app/demo.js';
import { externalId } from '../../src/modules/sim/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';
import { describeEachDialect } from '../helpers/db.js';

const CUSTOMERS = 300;

describeEachDialect('loadDemo', (dialect) => {
  let a: TestApp;
  let b: TestApp;
  let first: Awaited<ReturnType<typeof loadDemo>>;

  beforeAll(async () => {
    [a, b] = await Promise.all([createTestApp(dialect), createTestApp(dialect)]);
    first = await loadDemo(a, { customers: CUSTOMERS });
  }, 120_000);
  afterAll(async () => {
    await a?.destroy();
    await b?.destroy();
  });

  it('loads the organisation and writes one key per demo role, owner-only', async () => {
    expect(first.loaded).toBe(true);
    expect(first.counts?.imported).toBeGreaterThan(CUSTOMERS * 0.95);
    expect(first.counts?.consents).toBeGreaterThan(0);
    expect(first.counts?.consentsRejected).toBe(0);
    expect(Object.keys(first.keys).sort()).toEqual([...DEMO_ROLES].sort());
    expect(statSync(first.keyDir).mode & 0o777).toBe(0o700);
    for (const role of DEMO_ROLES) {
      const file = join(first.keyDir, role);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect((await readFile(file, 'utf8')).trim()).toBe(first.keys[role]);
      expect(await a.authenticate(first.keys[role]!)).toBeDefined();
    }
  });

  it("a support agent's printed read works over HTTP: one of his customers, masked", async () => {
    const s = first.samples.support!;
    const http = buildHttp(a);
    try {
      const res = await http.inject({
        method: 'GET',
        url: `/v1/subjects/${s.subject}?purpose=${s.purpose}&fields=${s.fields.join(',')}`,
        headers: { authorization: `Bearer ${first.keys.support}` },
      });
      expect(res.statusCode).toBe(200);
      const body = res.json() as {
        fields: Record<string, { view: string; value?: string }>;
        evidence: string;
      };
      for (const f of s.fields) expect(body.fields[f]?.view).toBe('masked');
      expect(body.evidence).toMatch(/^[0-9a-f]{64}$/);
      // His key reads nothing outside his tickets.
      const other = [
        ...(await a.vault.resolveExternalIds([externalId(1), externalId(2), externalId(3)])).values(),
      ];
      const assigned = new Set(
        (await a.actors.assignments({ actor: s.actor, limit: 1000 })).map((x) => x.subjectId),
      );
      const stranger = other.find((id) => !assigned.has(id));
      if (stranger) {
        const denied = await http.inject({
          method: 'GET',
          url: `/v1/subjects/${stranger}?purpose=customer_support&fields=name`,
          headers: { authorization: `Bearer ${first.keys.support}` },
        });
        expect(denied.statusCode).toBe(403);
      }
    } finally {
      await http.close();
    }
  });

  it('a second load changes nothing and says so', async () => {
    const actorsBefore = (await a.actors.list()).length;
    const again = await loadDemo(a, { customers: CUSTOMERS });
    expect(again.loaded).toBe(false);
    expect(again.message).toMatch(/already holds/);
    expect(again.keys).toEqual({});
    expect(again.samples).toEqual(first.samples);
    expect((await a.actors.list()).length).toBe(actorsBefore);
    // The administrator, employees, the telephony service and the partners; nothing twice.
    expect(actorsBefore).toBe(1 + first.counts!.employees + 1 + first.counts!.partners);
    expect(await a.authenticate(first.keys.admin!)).toBeDefined();
  });

  it('the same seed gives the same customers and counts on another deployment', async () => {
    const second = await loadDemo(b, { customers: CUSTOMERS });
    expect(second.counts).toEqual(first.counts);
    expect(second.actors).toEqual(first.actors);
    const ids = Array.from({ length: CUSTOMERS }, (_, i) => externalId(i));
    const inA = [...(await a.vault.resolveExternalIds(ids)).keys()].sort();
    const inB = [...(await b.vault.resolveExternalIds(ids)).keys()].sort();
    expect(inB).toEqual(inA);
    expect(inA.length).toBe(first.counts!.imported);
  });
});
