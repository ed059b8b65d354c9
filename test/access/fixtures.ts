import { readFileSync } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import { createRateLimiter } from '../../src/app/ratelimit.js';
import type { DialectName } from '../../src/db/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import type { Principal } from '../../src/lib/principal.js';
import { ensureAdmin, toPrincipal } from '../../src/modules/actors/index.js';
import { defaultPolicyFile } from '../../src/modules/policy/index.js';
import { type CustomerRecord, generateCustomers } from '../../src/modules/sim/index.js';
import { buildHttp, createTestApp, type TestApp } from '../helpers/app.js';

/**
 * The access tests' world: the whole service (createTestApp) over a fresh database, with a fixed
 * clock inside the guarded policy's office hours (09–21 Asia/Shanghai), one actor per role, a few
 * customers with known PI values, a telemarketing portfolio and support tickets (assignments),
 * and telemarketing consent for every customer but one.
 */
/** Monday 10 March 2025, 10:00 in Shanghai. */
export const OFFICE_HOURS = '2025-03-10T02:00:00.000Z';
/** The same day, 22:30 in Shanghai: outside the telemarketing hours. */
export const AFTER_HOURS = '2025-03-10T14:30:00.000Z';

export const GUARDED = readFileSync(defaultPolicyFile(), 'utf8');

export const ROLES = [
  'telemarketing',
  'support',
  'billing',
  'contact_service',
  'privacy_officer',
  'admin',
  'partner',
] as const;
export type Role = (typeof ROLES)[number];

/** Each role's own purpose in the guarded policy (admin has none). */
export const OWN_PURPOSE: Record<Role, string | undefined> = {
  telemarketing: 'telemarketing',
  support: 'customer_support',
  billing: 'billing',
  contact_service: 'contact',
  privacy_officer: 'investigation',
  admin: undefined,
  partner: 'partner_referral',
};

export const PURPOSES = [
  'telemarketing',
  'customer_support',
  'billing',
  'contact',
  'investigation',
  'partner_referral',
] as const;

/** Policy internals a refusal must never carry (decide.ts REASONS and grant vocabulary). */
export const POLICY_INTERNALS = [
  'UNKNOWN_PURPOSE',
  'NO_GRANT',
  'ATTRIBUTE_MISMATCH',
  'ASSIGNMENT_REQUIRED',
  'OUTSIDE_HOURS',
  'CONSENT_REQUIRED',
  'APPROVAL_REQUIRED',
  'QUOTA_EXCEEDED',
  'BREAK_GLASS_NOT_ALLOWED',
  'BREAK_GLASS_REASON_REQUIRED',
  'FIELDS_DENIED',
  'grant',
  'assignment',
  'approval_unlocks',
  'telemarketing:',
  'role',
];

export interface Actor {
  id: string;
  key: string;
  principal: Principal;
}

export interface World {
  app: TestApp;
  http: FastifyInstance;
  clock: ReturnType<typeof fixedClock>;
  admin: Actor;
  tm: Actor;
  tm2: Actor;
  support: Actor;
  billing: Actor;
  telephony: Actor;
  dpo: Actor;
  partner: Actor;
  approver: Actor;
  /** Actor per role, for the matrix. */
  byRole: Record<Role, Actor>;
  subjects: string[];
  records: Map<string, CustomerRecord>;
  /** The telemarketer's portfolio (first half of the subjects). */
  portfolio: string[];
  /** Assigned to the support agent (a ticket each). */
  tickets: string[];
  /** A portfolio subject without telemarketing consent. */
  noConsent: string;
  /** Every PI value of every seeded subject, raw and normalised forms, and fragments a leak would show. */
  piNeedles: string[];
  destroy(): Promise<void>;
}

export const SUBJECTS = 12;

export async function createWorld(
  dialect: DialectName,
  opts: { subjects?: number; at?: string; policy?: string } = {},
): Promise<World> {
  const clock = fixedClock(opts.at ?? OFFICE_HOURS);
  // Every request here comes from one loopback address in a burst far above a person's pace: the
  // per-address limit before authentication (tested in test/app/http-hardening) is off for this world.
  const app = await createTestApp(dialect, { clock, env: { CUSTODIAN_IP_RATE_LIMIT: '0' } });
  if (opts.policy) await app.policy.load(opts.policy, { by: null });
  const adminR = await ensureAdmin(app.actors);
  const admin: Actor = { id: adminR.actor.id, key: adminR.apiKey!, principal: toPrincipal(adminR.actor) };
  const make = async (name: string, kind: Principal['kind'], roles: string[]): Promise<Actor> => {
    // The host operator (by: null): an administrator's key would need a second admin (four-eyes).
    const r = await app.actors.create({ name, kind, roles }, { by: null });
    return { id: r.actor.id, key: r.apiKey, principal: toPrincipal(r.actor) };
  };
  const tm = await make('tm.wang', 'employee', ['telemarketing']);
  const tm2 = await make('tm.zhao', 'employee', ['telemarketing']);
  const support = await make('cs.li', 'employee', ['support']);
  const billing = await make('bill.chen', 'employee', ['billing']);
  const telephony = await make('telephony', 'service', ['contact_service']);
  const dpo = await make('dpo.sun', 'employee', ['privacy_officer']);
  const partner = await make('partner.acme', 'partner', ['partner']);
  const approver = await make('boss.zhou', 'employee', ['approver']);

  const n = opts.subjects ?? SUBJECTS;
  const recs = [...generateCustomers({ seed: 'access-tests', count: n })];
  const metas = await app.vault.createMany(
    recs.map((r) => ({
      externalId: r.external_id,
      fields: Object.fromEntries(Object.entries(r).filter(([k, v]) => k !== 'external_id' && v !== '')),
    })),
    { by: admin.id },
  );
  const subjects = metas.map((m) => m.id);
  const records = new Map(subjects.map((s, i) => [s, recs[i]!]));
  const half = Math.max(1, Math.floor(n / 2));
  const portfolio = subjects.slice(0, half);
  const tickets = subjects.slice(0, 3);
  await app.actors.assign(
    [
      ...portfolio.map((s) => ({ actor: tm.id, subjectId: s })),
      ...tickets.map((s) => ({ actor: support.id, subjectId: s })),
      ...subjects.slice(0, 3).map((s) => ({ actor: partner.id, subjectId: s })),
    ],
    { by: admin.id },
  );

  // Telemarketing consent for everyone except the last portfolio subject (CONSENT_REQUIRED).
  const notice = await app.consent.publishNotice(
    {
      key: 'marketing',
      language: 'en',
      text:
        'Example Cloud Co. (contact: privacy@example-cloud.cn) may call you about its services using your name, ' +
        'mobile number and company. Kept until you withdraw. Withdraw or exercise your rights at the privacy portal.',
      declarations: {
        processor: { name: 'Example Cloud Co.', contact: 'privacy@example-cloud.cn' },
        purposes: [{ purpose: 'telemarketing', necessary: false }],
        methods: ['telephone calls'],
        categories: ['identity', 'contact', 'organisation'],
        fields: ['name', 'mobile', 'company'],
        retention: 'until you withdraw',
        rights: 'privacy portal',
      },
    },
    admin.id,
  );
  const noConsent = portfolio[portfolio.length - 1]!;
  for (const s of subjects) {
    if (s === noConsent) continue;
    await app.consent.grant(
      {
        subjectId: s,
        purpose: 'telemarketing',
        fields: ['name', 'mobile', 'company'],
        noticeId: notice.id,
        method: 'web',
      },
      admin.id,
    );
  }

  const http = buildHttp(app);
  await http.ready();

  const piNeedles = new Set<string>();
  for (const r of recs) {
    for (const [k, v] of Object.entries(r)) {
      if (k === 'external_id' || !v) continue;
      piNeedles.add(v);
      if (k === 'mobile') {
        const digits = v.replace(/\D/g, '');
        piNeedles.add(digits.slice(-11));
        piNeedles.add(digits.slice(-8)); // the unique suffix
      }
      if (k === 'email') piNeedles.add(v.toLowerCase());
      if (k === 'id_number') piNeedles.add(v.toUpperCase());
    }
  }

  return {
    app,
    http,
    clock,
    admin,
    tm,
    tm2,
    support,
    billing,
    telephony,
    dpo,
    partner,
    approver,
    byRole: {
      telemarketing: tm,
      support,
      billing,
      contact_service: telephony,
      privacy_officer: dpo,
      admin,
      partner,
    },
    subjects,
    records,
    portfolio,
    tickets,
    noConsent,
    piNeedles: [...piNeedles],
    async destroy() {
      await http.close();
      await app.destroy();
    },
  };
}

/** The PI values found in `text` (should be none in an error body). */
export function piIn(text: string, needles: readonly string[]): string[] {
  return needles.filter((n) => n.length >= 4 && text.includes(n));
}

/** A policy text derived from the guarded one with a different daily telemarketing quota. */
export function guardedWithQuota(daily: number, version = `test-quota-${daily}`): string {
  return GUARDED.replace(/version: "[^"]*"/, `version: "${version}"`).replace(
    /(role: telemarketing\n {4}purpose: telemarketing[\s\S]*?daily: )200/,
    `$1${daily}`,
  );
}

export const bearer = (a: Actor) => ({ authorization: `Bearer ${a.key}` });

/** The PIPL art. 17 + 23 notice for separate consent to the demo distributor's referral programme. */
export function referralNotice(recipientId: string, method: string) {
  return {
    key: 'referral',
    language: 'en',
    text:
      'Example Cloud Co. (contact: privacy@example-cloud.cn) will provide your name and mobile number to ' +
      'Shanghai Example Distribution Ltd. (contact: compliance@distribution.example.cn) for its referral programme. ' +
      'Kept 90 days. Exercise your rights at the privacy portal.',
    declarations: {
      processor: { name: 'Example Cloud Co.', contact: 'privacy@example-cloud.cn' },
      purposes: [{ purpose: 'partner_referral', necessary: false }],
      methods: [method],
      categories: ['identity', 'contact'],
      fields: ['name', 'mobile'],
      retention: '90 days at the recipient',
      rights: 'privacy portal',
      thirdParty: {
        recipientId,
        name: 'Shanghai Example Distribution Ltd.',
        contact: 'compliance@distribution.example.cn',
        purposes: ['partner_referral'],
        methods: [method],
        categories: ['identity', 'contact'],
        fields: ['name', 'mobile'],
      },
    },
  };
}

/**
 * The world's HTTP server with every rate limit off (per IP and per actor), so hostile requests
 * reach the handlers; the limits have their own tests.
 */
export async function unthrottledHttp(w: World): Promise<FastifyInstance> {
  const unlimited = { rate: 1e9, burst: 1e9 };
  const http = buildHttp({
    ...w.app,
    config: { ...w.app.config, ipRateLimit: 0 },
    rateLimit: createRateLimiter(w.clock, { employee: unlimited, partner: unlimited, service: unlimited }),
  });
  await http.ready();
  return http;
}
