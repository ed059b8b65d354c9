import { vi } from 'vitest';
import {
  type Check,
  type RunOptions,
  runScenario,
  type ScenarioReport,
} from '../../src/app/simulate/index.js';
import { main } from '../../src/cli.js';
import type { DialectName } from '../../src/db/index.js';
import { postgresUrl } from '../helpers/db.js';

/** Runs a scenario on a fresh deployment of the dialect (a new PostgreSQL schema, dropped after). */
export function simulate(
  dialect: DialectName,
  scenario: string,
  options: Omit<RunOptions, 'scenario' | 'databaseUrl'> = {},
): Promise<ScenarioReport> {
  return runScenario({
    scenario,
    ...options,
    databaseUrl: dialect === 'postgres' ? postgresUrl() : undefined,
  });
}

/** The check whose claim contains `text` (exactly one). */
export function check(report: ScenarioReport, text: string): Check {
  const found = report.checks.filter((c) => c.claim.includes(text));
  if (found.length !== 1) throw new Error(`expected one check matching "${text}", found ${found.length}`);
  return found[0]!;
}

/** A compact view for assertion messages: every check that did not hold, with its detail. */
export function failures(report: ScenarioReport): string[] {
  return report.checks.filter((c) => c.status === 'failed').map((c) => `${c.claim}: ${c.detail}`);
}

export const SCENARIO_TIMEOUT = 240_000;

/**
 * Runs `custodian ARGS…` in process on the embedded default (DATABASE_URL unset for the call) and
 * returns its exit code and what it printed on stdout.
 */
export async function cliOnSqlite(args: readonly string[]): Promise<{ code: number; out: string }> {
  let out = '';
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += chunk.toString();
    return true;
  });
  vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  const saved = process.env.DATABASE_URL;
  delete process.env.DATABASE_URL;
  try {
    const code = await main(['node', 'custodian', ...args]);
    return { code, out };
  } finally {
    if (saved !== undefined) process.env.DATABASE_URL = saved;
    process.exitCode = undefined;
    vi.restoreAllMocks();
  }
}
