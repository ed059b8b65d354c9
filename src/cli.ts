#!/usr/bin/env node
import { realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, Option } from 'commander';
import { type App, createApp } from './app/app.js';
import { formatDemo, loadDemo } from './app/demo.js';
import { checkConfig } from './app/doctor.js';
import { initialise, openInfra } from './app/infra.js';
import { buildHttp, listen, VERSION } from './app/serve.js';
import { registerSimulateCommands } from './app/simulate/index.js';
import { suites } from './bench/index.js';
import { runSuites } from './bench/runner.js';
import { addCommonOptions, configFrom, makeContext, reportError } from './cli/program.js';
import type { Config } from './config.js';
import { EXIT, table } from './lib/cli/index.js';
import { registerActorsCommands } from './modules/actors/index.js';
import { registerConsentCommands } from './modules/consent/index.js';
import { registerDetectCommands } from './modules/detect/index.js';
import { registerDisclosureCommands } from './modules/disclosure/index.js';
import { registerIncidentsCommands } from './modules/incidents/index.js';
import { registerLedgerCommands } from './modules/ledger/index.js';
import { registerPolicyCommands } from './modules/policy/index.js';
import { registerRightsCommands } from './modules/rights/index.js';
import { registerSessionCommands } from './modules/session/index.js';
import { registerTraceCommands } from './modules/trace/index.js';
import { registerVaultCommands } from './modules/vault/index.js';

async function openApp(config: Config): Promise<App> {
  return createApp(await openInfra(config));
}

export function buildProgram(): Command {
  const program = new Command('custodian')
    .description('Personal-information custody: encrypted vault, purpose-bound reads, a verifiable ledger.')
    .version(VERSION)
    .showHelpAfterError()
    .exitOverride();
  const ctx = makeContext(openApp);

  program
    .command('init')
    .description('create the key file (mode 0600, outside the database) and the database schema')
    .action(async (_o, cmd: Command) => {
      const config = configFrom(cmd);
      const out = ctx.output(cmd);
      const r = await initialise(config);
      out.result(
        [
          r.created
            ? `created key file ${r.keyFile} (mode 0600) — keep it off the database's volume and backups`
            : `key file ${r.keyFile} already exists; kept`,
          `database ${r.database}: ${r.migrationsApplied.length} migration(s) applied`,
        ].join('\n'),
        r,
      );
    });

  program
    .command('serve')
    .description('run the HTTP API (binds 127.0.0.1:8080 unless told otherwise)')
    .option('--host <host>', 'address to bind (CUSTODIAN_HOST)')
    .option('--port <port>', 'port (CUSTODIAN_PORT)')
    .option('--demo', 'on a new data directory: initialise and load the demo organisation')
    .action(async (o: { demo?: boolean }, cmd: Command) => {
      const config = configFrom(cmd);
      const out = ctx.output(cmd);
      if (o.demo) await initialise(config);
      const app = await openApp(config);
      const demo = o.demo ? await loadDemo(app) : undefined;
      const server = buildHttp(app);
      const url = await listen(app, server);
      app.startBackground();
      out.info(`custodian ${VERSION} listening on ${url} (${app.database.description})`);
      out.info(`console: ${url}/console/  portal: ${url}/portal/`);
      if (demo) out.result(formatDemo(demo, url), demo);
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      out.info('shutting down');
      // Requests in flight get CUSTODIAN_SHUTDOWN_TIMEOUT_MS to finish; then the process exits
      // anyway (acknowledged writes are already durable: group commit answers after the commit).
      const deadline = setTimeout(() => {
        out.info('shutdown timeout: exiting with requests still open');
        process.exit(EXIT.failure);
      }, config.shutdownTimeoutMs);
      deadline.unref();
      await server.close();
      await app.close();
      clearTimeout(deadline);
    });

  program
    .command('doctor')
    .description('report unsafe settings (exit 1 when any is unsafe)')
    .option('--host <host>', 'address the server would bind')
    .option('--port <port>', 'port')
    .action(async (_o, cmd: Command) => {
      const out = ctx.output(cmd);
      const findings = checkConfig(configFrom(cmd));
      out.result(table(findings.map((f) => [f.level.toUpperCase(), f.code, f.message])), { findings });
      if (findings.some((f) => f.level === 'unsafe')) process.exitCode = EXIT.failure;
    });

  program
    .command('bench')
    .description(
      'run benchmarks against their same-run baselines; JSON to bench/results/, summary to docs/benchmarks.md',
    )
    .addOption(new Option('--suite <name...>', 'only these suites').choices(suites.map((s) => s.name)))
    .option('--scale <n>', 'size factor (1 = documented sizes)', '1')
    .option('--runs <n>', 'runs per measurement (median reported)', '3')
    .option(
      '--dialects <list>',
      'sqlite,postgres (postgres needs TEST_POSTGRES_URL or a postgres DATABASE_URL)',
    )
    .action(async (o: { suite?: string[]; scale: string; runs: string; dialects?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const pgUrl = [process.env.TEST_POSTGRES_URL, process.env.DATABASE_URL].find((u) =>
        u?.startsWith('postgres'),
      );
      const dialects = (o.dialects ?? (pgUrl ? 'sqlite,postgres' : 'sqlite')).split(',') as (
        | 'sqlite'
        | 'postgres'
      )[];
      const chosen = o.suite ? suites.filter((s) => o.suite!.includes(s.name)) : suites;
      const results = await runSuites(
        chosen,
        {
          scale: Number(o.scale),
          runs: Number(o.runs),
          dialects,
          postgresUrl: pgUrl,
          log: (l) => out.info(l),
        },
        { docFile: 'docs/benchmarks.md' },
      );
      const rows = results.flatMap((r) =>
        r.measurements.map((m) => [
          m.name,
          `${Math.round(m.value * 100) / 100} ${m.unit}`,
          m.baseline ? `${Math.round(m.baseline.value * 100) / 100}` : '',
          m.baseline?.value ? `${(m.value / m.baseline.value).toFixed(2)}x` : '',
          m.goal ? (m.goal.met ? 'met' : 'NOT met') : '',
        ]),
      );
      out.result(table(rows, ['measurement', 'median', 'baseline', 'ratio', 'goal']), results);
    });

  registerVaultCommands(program, ctx);
  registerActorsCommands(program, ctx);
  registerPolicyCommands(program, ctx);
  registerLedgerCommands(program, ctx);
  registerConsentCommands(program, ctx);
  registerDisclosureCommands(program, ctx);
  registerTraceCommands(program, ctx);
  registerRightsCommands(program, ctx);
  registerIncidentsCommands(program, ctx);
  registerDetectCommands(program, ctx);
  registerSimulateCommands(program, ctx);
  registerSessionCommands(program, ctx);

  addCommonOptions(program);
  return program;
}

export async function main(argv: string[] = process.argv): Promise<number> {
  const program = buildProgram();
  const json = argv.includes('--json');
  try {
    await program.parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : EXIT.ok;
  } catch (e) {
    return reportError(e, json);
  }
}

function invokedDirectly(): boolean {
  try {
    return Boolean(process.argv[1]) && realpathSync(process.argv[1]!) === fileURLToPath(import.meta.url);
  } catch {
    return false;
  }
}
if (invokedDirectly()) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (e) => {
      process.exitCode = reportError(e, false);
    },
  );
}
