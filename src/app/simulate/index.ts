import { mkdirSync, writeFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import type { CommandContext } from '../../lib/cli/index.js';
import { EXIT } from '../../lib/cli/index.js';
import { commonError } from '../../lib/errors.js';
import { writeBenchmarksDoc } from '../../lib/measure.js';
import type { ScenarioContext, ScenarioDef } from './common.js';
import { type InstanceOptions, openInstance, type PolicyName } from './instance.js';
import { Checks, formatReport, type ScenarioReport } from './report.js';
import { formatScaleReport, REFERENCE_SUBJECTS, runScale, scaleSuiteResult } from './scale.js';
import { bulkScrape2020 } from './scenarios/bulkscrape.js';
import { complaintLiMing } from './scenarios/complaint.js';
import { detectionScenario } from './scenarios/detection.js';
import { incidentDrill } from './scenarios/drill.js';
import { exposedDatabase2022 } from './scenarios/exposed.js';
import { overBroadPermissions2019 } from './scenarios/overbroad.js';
import { partnerWithoutConsent2019 } from './scenarios/partner.js';
import { telemarketer2019 } from './scenarios/telemarketer.js';
import { formatTraceSim, runTraceSimulation } from './trace.js';

export { type LoadedOrganisation, loadOrganisation, organisationFor } from './organisation.js';
/**
 * `custodian simulate --scenario NAME`: runs an incident of ../shared/SCENARIOS.md end to end
 * against a fresh Custodian deployment (its own data directory and database) through the services
 * and the HTTP API, and reports what was prevented, detected and traced, with the evidence.
 */
export { type Check, type CheckStatus, formatReport, type ScenarioReport } from './report.js';
export { formatScaleReport, runScale, type ScaleReport, scaleSuiteResult } from './scale.js';

export const SCENARIOS: readonly ScenarioDef[] = [
  telemarketer2019,
  partnerWithoutConsent2019,
  complaintLiMing,
  bulkScrape2020,
  exposedDatabase2022,
  overBroadPermissions2019,
  detectionScenario,
  incidentDrill,
];

export interface RunOptions {
  scenario: string;
  subjects?: number | undefined;
  days?: number | undefined;
  seed?: string | undefined;
  policy?: PolicyName | undefined;
  /** A fresh data directory (default: a temporary one, removed afterwards). */
  dataDir?: string | undefined;
  /** postgres://… to run on PostgreSQL (in a new schema); anything else: SQLite. */
  databaseUrl?: string | undefined;
  keep?: boolean | undefined;
  log?: (line: string) => void;
}

export async function runScenario(o: RunOptions): Promise<ScenarioReport> {
  const def = SCENARIOS.find((s) => s.name === o.scenario);
  if (!def)
    throw commonError('VALIDATION_FAILED', {
      message: `Unknown scenario; one of: ${SCENARIOS.map((s) => s.name).join(', ')}.`,
      details: { fields: ['scenario'] },
    });
  const policy = o.policy ?? 'guarded';
  const requested = o.subjects ?? def.defaults.subjects;
  const subjects = Math.max(requested, def.minSubjects ?? 1);
  const days = o.days ?? def.defaults.days;
  if (!Number.isSafeInteger(subjects) || subjects < 1 || !Number.isSafeInteger(days) || days < 1)
    throw commonError('VALIDATION_FAILED', { details: { fields: ['subjects', 'days'] } });
  const seed = o.seed ?? def.name;
  const log = o.log ?? (() => {});
  if (subjects !== requested)
    log(`${def.name} needs at least ${def.minSubjects} customers: running with ${subjects}`);

  const started = Date.now();
  const instanceOptions: InstanceOptions = {
    dataDir: o.dataDir,
    databaseUrl: o.databaseUrl,
    policy,
    start: def.start,
    keep: o.keep,
  };
  const inst = await openInstance(instanceOptions);
  const checks = new Checks();
  const ctx: ScenarioContext = {
    inst,
    opts: { seed, subjects, days, policy },
    checks,
    log,
    organisation: {},
  };
  let to = def.start.toISOString();
  try {
    log(`${def.name}: ${policy} policy, ${inst.app.database.description}`);
    try {
      await def.run(ctx);
    } catch (e) {
      // An exception is a failed run, reported with its code and never with data.
      const code = (e as { code?: string }).code ?? (e as Error).name ?? 'Error';
      checks.failed('recorded', 'the scenario ran to the end', `stopped by ${code}: ${(e as Error).message}`);
    }
    to = inst.clock.now().toISOString();
  } finally {
    await inst.close();
  }
  const summary = checks.summary();
  return {
    scenario: def.name,
    title: def.title,
    policy,
    seed,
    subjects,
    days,
    dialect: inst.postgres ? 'postgres' : 'sqlite',
    database: inst.postgres
      ? `PostgreSQL schema ${inst.postgres.schema}${inst.kept ? '' : ' (dropped after the run)'}`
      : 'SQLite',
    dataDir: inst.dataDir,
    kept: inst.kept,
    simulated: { from: def.start.toISOString(), to },
    elapsedMs: Date.now() - started,
    organisation: ctx.organisation,
    ...(ctx.figures ? { figures: ctx.figures } : {}),
    checks: checks.list,
    summary,
    ok: summary.failed === 0,
  };
}

function positiveInt(name: string) {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isSafeInteger(n) || n < 1)
      throw commonError('VALIDATION_FAILED', { message: `--${name} must be a positive whole number.` });
    return n;
  };
}

/** Registers `custodian simulate`. Exit 0 when every covered expectation held, 1 otherwise. */
export function registerSimulateCommands(
  program: Command,
  ctx: Pick<CommandContext<unknown>, 'output'>,
): void {
  program
    .command('simulate')
    .description(
      'run an incident of ../shared/SCENARIOS.md against a fresh deployment (temporary data directory; ' +
        'a new schema when DATABASE_URL is postgres://) and report what was prevented, detected and traced; ' +
        'without --scenario, the scale run: import --subjects customers, bytes on disk, lookup latency',
    )
    .addOption(
      new Option(
        '--scenario <name>',
        'the scenario (without one: the scale run — import --subjects customers, bytes on disk, lookup latency)',
      ).choices([...SCENARIOS.map((s) => s.name), 'trace']),
    )
    .option(
      '--subjects <n>',
      'customers in the synthetic organisation (default per scenario)',
      positiveInt('subjects'),
    )
    .option('--days <n>', 'days of activity (default per scenario)', positiveInt('days'))
    .option('--seed <seed>', 'seed of the synthetic organisation (default: the scenario name)')
    .addOption(
      new Option('--policy <policy>', 'access policy').choices(['guarded', 'lax']).default('guarded'),
    )
    .option('--trials <n>', 'trace: how many simulated leaks to trace (default 1000)', positiveInt('trials'))
    .option('--keep', 'keep the data directory (and PostgreSQL schema) after the run')
    .option(
      '--record',
      'scale run: write bench/results/scale-<dialect>.json and regenerate docs/benchmarks.md',
    )
    .option(
      '--data-dir <dir>',
      'a fresh, empty data directory for the run (default: a temporary one, removed after)',
    )
    .action(
      async (
        o: {
          scenario?: string;
          subjects?: number;
          days?: number;
          seed?: string;
          policy: PolicyName;
          keep?: boolean;
          record?: boolean;
          trials?: number;
        },
        cmd: Command,
      ) => {
        const out = ctx.output(cmd);
        const g = cmd.optsWithGlobals() as { dataDir?: string };
        const url = process.env.DATABASE_URL;
        const databaseUrl = url && /^postgres(ql)?:\/\//.test(url) ? url : undefined;
        const log = (l: string) => out.info(l);
        if (!o.scenario) {
          const report = await runScale({
            subjects: o.subjects ?? REFERENCE_SUBJECTS,
            seed: o.seed,
            dataDir: g.dataDir,
            databaseUrl,
            keep: o.keep,
            log,
          });
          if (o.record) {
            const result = scaleSuiteResult(report);
            mkdirSync('bench/results', { recursive: true });
            writeFileSync(`bench/results/${result.suite}.json`, `${JSON.stringify(result, null, 2)}\n`);
            writeBenchmarksDoc('bench/results', 'docs/benchmarks.md');
            log(`recorded bench/results/${result.suite}.json and docs/benchmarks.md`);
          }
          out.result(formatScaleReport(report), report);
          if (!report.ok) process.exitCode = EXIT.failure;
          return;
        }
        if (o.scenario === 'trace') {
          const sim = await runTraceSimulation({
            trials: o.trials ?? 1000,
            seed: o.seed,
            subjects: o.subjects,
            dataDir: g.dataDir,
            databaseUrl,
            log,
          });
          const { outcomes, ...summary } = sim;
          out.result(formatTraceSim(sim), out.json ? { ...summary, outcomes } : summary);
          if (!sim.ok) process.exitCode = EXIT.failure;
          return;
        }
        const report = await runScenario({
          ...o,
          scenario: o.scenario,
          dataDir: g.dataDir,
          databaseUrl,
          log,
        });
        out.result(formatReport(report), report);
        if (!report.ok) process.exitCode = EXIT.failure;
      },
    );
}
