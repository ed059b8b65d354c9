import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import type { DialectName } from '../../src/db/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import type { Principal } from '../../src/lib/principal.js';
import { ensureAdmin, toPrincipal } from '../../src/modules/actors/index.js';
import type { Message, MessageGateway } from '../../src/modules/incidents/index.js';
import { generateCustomers } from '../../src/modules/sim/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';

/**
 * The incidents tests' world: the whole service over a fresh database (lax policy, so an insider's
 * reads succeed, as in telemarketer-2019 "lax"), a fixed clock, customers with known contact
 * points, an insider, a bystander, a privacy officer, and a fake messaging gateway (an outside
 * system) that keeps what it was asked to send.
 */
export interface Who {
  id: string;
  key: string;
  principal: Principal;
}

export interface FakeGateway extends MessageGateway {
  sent: Message[];
  failFor: Set<string>;
}

export function fakeGateway(): FakeGateway {
  const sent: Message[] = [];
  const failFor = new Set<string>();
  return {
    sent,
    failFor,
    async send(m) {
      if (failFor.has(m.to)) throw new Error('gateway refused');
      sent.push(m);
      return { id: `fake-${sent.length}` };
    },
  };
}

export interface IncidentWorld {
  app: TestApp;
  http: FastifyInstance;
  clock: ReturnType<typeof fixedClock>;
  gateway: FakeGateway;
  admin: Who;
  insider: Who;
  bystander: Who;
  dpo: Who;
  subjects: string[];
  destroy(): Promise<void>;
}

export const START = '2025-03-10T02:00:00.000Z';

/** The incident facts every notice needs (PIPL 57, GDPR 33–34). */
export const FACTS = {
  cause: 'An employee account read customer records outside its duties and passed them on.',
  harm: 'Unsolicited marketing calls; possible fraud attempts using the name and company.',
  measures: ['The account was suspended and its keys revoked.', 'Access now requires an assignment.'],
  advice: ['Be wary of callers claiming to be our partners.', 'Do not share verification codes.'],
  contact: 'PI protection officer, privacy@example-cloud.cn, +86 21 5555 0100',
};

export async function createIncidentWorld(dialect: DialectName, n = 30): Promise<IncidentWorld> {
  const clock = fixedClock(START);
  const gateway = fakeGateway();
  const app = await createTestApp(dialect, { clock, app: { messaging: gateway } });
  const lax = readFileSync(new URL('../../policies/lax.yaml', import.meta.url), 'utf8');
  await app.policy.load(lax, { by: null });
  const adminR = await ensureAdmin(app.actors);
  const admin = { id: adminR.actor.id, key: adminR.apiKey!, principal: toPrincipal(adminR.actor) };
  const make = async (name: string, roles: string[]): Promise<Who> => {
    const r = await app.actors.create({ name, kind: 'employee', roles }, { by: null });
    return { id: r.actor.id, key: r.apiKey, principal: toPrincipal(r.actor) };
  };
  const insider = await make('cs.insider', ['support']);
  const bystander = await make('cs.other', ['support']);
  const dpo = await make('dpo.sun', ['privacy_officer']);
  const recs = [...generateCustomers({ seed: 'incidents-tests', count: n })];
  const metas = await app.vault.createMany(
    recs.map((r) => ({
      externalId: r.external_id,
      fields: Object.fromEntries(Object.entries(r).filter(([k, v]) => k !== 'external_id' && v !== '')),
    })),
    { by: admin.id },
  );
  const http = buildHttp(app);
  await http.ready();
  return {
    app,
    http,
    clock,
    gateway,
    admin,
    insider,
    bystander,
    dpo,
    subjects: metas.map((m) => m.id),
    async destroy() {
      await http.close();
      await app.destroy();
    },
  };
}
