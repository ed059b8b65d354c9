import { readFileSync } from 'node:fs';
import { parse as parseYaml, stringify as stringifyYaml } from 'yaml';
import { generateWorkload } from '../../../modules/sim/index.js';
import {
  countsOf,
  DAY_MS,
  local,
  principal,
  replayWorkload,
  type ScenarioContext,
  type ScenarioDef,
  setupOrganisation,
} from '../common.js';
import { policyFile } from '../instance.js';

/**
 * over-broad-permissions-2019 (seed 004, the code-hosting permission mistake): a role is granted
 * more than its job needs. Here support agents were given the billing purpose with every field in
 * clear "for a migration", used once, and never taken back. The access review must show what each
 * role sees per purpose and how, and which grants went unused in the last 30 days, so they can be
 * withdrawn.
 */
const WORKLOAD_SCALE = 0.05;
const OVERBROAD = { role: 'support', purpose: 'billing' };

interface ReviewField {
  field: string;
  view: string;
  via: string;
  used: boolean;
}
interface ReviewGrant {
  role: string;
  purpose: string;
  fields: ReviewField[];
  unused: boolean;
}

export const overBroadPermissions2019: ScenarioDef = {
  name: 'over-broad-permissions-2019',
  title: 'a role is granted more than its job needs',
  seeds: '004',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 500, days: 30 },
  start: local('2019-08-01', '09:00'),
  async run(ctx: ScenarioContext) {
    const { inst, opts, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const { org } = loaded;
    const officer = loaded.employees.get(org.byRole('privacy_officer')[0]!.external_id)!;
    const agent = loaded.employees.get(org.byRole('support')[0]!.external_id)!;

    // The mistake: the active policy plus one grant nobody's job needs.
    const doc = parseYaml(readFileSync(policyFile(opts.policy), 'utf8')) as {
      version: string;
      grants: Record<string, unknown>[];
    };
    const base = doc.version;
    doc.version = `${base}+migration`;
    doc.grants.push({
      ...OVERBROAD,
      description: 'Given for the 2019 billing migration; never taken back.',
      fields: { '*': 'plain' },
      assignment: false,
    });
    const put = await inst.request(loaded.admin.apiKey, 'PUT', '/v1/policy', { text: stringifyYaml(doc) });
    if (put.status !== 200) {
      checks.failed(
        'detected',
        'the over-broad grant is loaded',
        `PUT /v1/policy → ${put.status} ${put.body?.code}`,
      );
      return;
    }

    // Used once, for the migration, more than 30 days before the review.
    const once = local('2019-08-05', '14:00');
    inst.clock.set(once);
    const someone = loaded.subjects.values().next().value!;
    const migrationRead = await app.access.read(principal(agent), {
      subjectId: someone,
      purpose: OVERBROAD.purpose,
      fields: ['name', 'address', 'id_number'],
    });

    // Then the organisation's ordinary work for `days` days (sim's workload, scaled down).
    const from = local('2019-09-16');
    const stats = await replayWorkload(
      ctx,
      loaded,
      generateWorkload({ org, start: from, days: opts.days, scale: WORKLOAD_SCALE }),
    );
    const end = new Date(from.getTime() + opts.days * DAY_MS - 3_600_000);
    inst.clock.set(end);
    ctx.log(
      `replayed ${stats.reads} reads (${stats.allowed} allowed), ${stats.contacts} calls, ${stats.assigned} tickets`,
    );

    const res = await inst.request(officer.apiKey, 'GET', '/v1/policy/review?days=30');
    const grants = (res.body?.grants ?? []) as ReviewGrant[];
    const unused = (res.body?.unused ?? []) as { role: string; purpose: string }[];
    const findings = (res.body?.findings ?? []) as { code: string; role: string; purpose: string }[];
    const policy = app.policy.current()!;

    // 1. Per role and purpose: which fields and how.
    const listed = policy.grants.every((g) =>
      grants.some((r) => r.role === g.role && r.purpose === g.purpose),
    );
    const tm = grants.find((g) => g.role === 'telemarketing' && g.purpose === 'telemarketing');
    const view = (g: ReviewGrant | undefined, f: string) =>
      g?.fields.find((x) => x.field === f && x.via === 'grant')?.view;
    const broad = grants.find((g) => g.role === OVERBROAD.role && g.purpose === OVERBROAD.purpose);
    checks.expect(
      'detected',
      'the access review shows, for each role and purpose, which fields it can see and how',
      res.status === 200 &&
        listed &&
        grants.length === policy.grants.length &&
        (opts.policy === 'lax' || (view(tm, 'mobile') === 'token' && view(tm, 'name') === 'masked')) &&
        view(broad, '*') === 'plain',
      `GET /v1/policy/review → ${res.status}: ${grants.length} grants of policy ${policy.name} ${policy.version}, e.g. ${grants
        .slice(0, 4)
        .map(
          (g) =>
            `${g.role}/${g.purpose}: ${g.fields.map((f) => `${f.field}=${f.view}${f.via === 'break_glass' ? '(break-glass)' : ''}`).join(' ')}`,
        )
        .join('; ')}`,
      { grants: grants.length, policyHash: policy.hash },
    );

    // 2. Unused in the last 30 days: exactly the grants no allowed read used in that window.
    const windowStart = new Date(end.getTime() - 29 * DAY_MS).toISOString().slice(0, 10);
    const usedInWindow = new Set([...stats.used].filter(([, day]) => day >= windowStart).map(([k]) => k));
    const disagree = grants.filter((g) => {
      const used = usedInWindow.has(`${g.role}/${g.purpose}`);
      // A grant is unused when nothing it shows was used; break-glass views are reviewed apart.
      const reviewUsed = g.fields.some((f) => f.via === 'grant' && f.used);
      return used !== reviewUsed;
    });
    const broadUnused = unused.some((u) => u.role === OVERBROAD.role && u.purpose === OVERBROAD.purpose);
    checks.expect(
      'detected',
      'it shows which grants went unused in the last 30 days, so they can be withdrawn',
      migrationRead.allowed &&
        broadUnused &&
        broad?.unused === true &&
        findings.some(
          (f) =>
            f.code === 'PLAIN_WITHOUT_LIMITS' && f.role === OVERBROAD.role && f.purpose === OVERBROAD.purpose,
        ) &&
        disagree.length === 0,
      `the ${OVERBROAD.role}/${OVERBROAD.purpose} grant (plain, no assignment) was used once on ${once.toISOString().slice(0, 10)}, more than 30 days ago, and is listed unused (and PLAIN_WITHOUT_LIMITS); ${grants.filter((g) => g.unused).length} grant(s) unused in all (${grants
        .filter((g) => g.unused)
        .map((g) => `${g.role}/${g.purpose}`)
        .join(
          ', ',
        )}); the review agrees with the ${stats.allowed} allowed reads replayed for every grant${disagree.length ? ` except ${disagree.map((g) => `${g.role}/${g.purpose}`).join(', ')}` : ''}`,
      {
        unusedGrants: grants.filter((g) => g.unused).length,
        findings: findings.map((f) => `${f.code}:${f.role}/${f.purpose}`),
        migrationLeaf: migrationRead.evidence,
      },
    );
    if (stats.denied > 0) ctx.log(`denied during the replay: ${countsOf(stats.deniedReasons)}`);

    // 3. Withdrawn: the next policy version drops it, and the role no longer reads that way.
    const narrowed = parseYaml(readFileSync(policyFile(opts.policy), 'utf8')) as { version: string };
    narrowed.version = `${base}+reviewed`;
    const put2 = await inst.request(loaded.admin.apiKey, 'PUT', '/v1/policy', {
      text: stringifyYaml(narrowed),
    });
    inst.clock.set(new Date(end.getTime() + 600_000));
    const after = await app.access.read(principal(agent), {
      subjectId: someone,
      purpose: OVERBROAD.purpose,
      fields: ['name', 'address', 'id_number'],
    });
    const review2 = await inst.request(officer.apiKey, 'GET', '/v1/policy/review?days=30');
    const still = ((review2.body?.grants ?? []) as ReviewGrant[]).some(
      (g) => g.role === OVERBROAD.role && g.purpose === OVERBROAD.purpose,
    );
    checks.expect(
      'prevented',
      'once withdrawn, the grant no longer reads',
      put2.status === 200 && !after.allowed && after.reasons.includes('NO_GRANT') && !still,
      `PUT /v1/policy (${put2.body?.version}) → ${put2.status}; ${agent.actor.name}'s billing read → ${after.allowed ? 'allowed' : `denied (${after.reasons.join(',')})`}; the review no longer lists it`,
      { policyHash: put2.body?.hash ?? null, deniedLeaf: after.evidence },
    );
  },
};
