import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { type Config, loadConfig } from '../../config.js';
import { type Database, dialectOf, migrate, openDatabase } from '../../db/index.js';
import { fixedClock } from '../../lib/clock.js';
import { generateKeyFile, type Keyring, loadKeyring, writeKeyFile } from '../../lib/crypto/index.js';
import { commonError } from '../../lib/errors.js';
import { createLogger } from '../../lib/log.js';
import { defaultPolicyFile } from '../../modules/policy/index.js';
import { type App, createApp } from '../app.js';
import { buildHttp } from '../serve.js';

/**
 * A fresh Custodian deployment for one scenario run: its own data directory (a temporary one unless
 * given) with a key file written as `custodian init` writes it, and its own database — a SQLite file
 * in the data directory, or, when the database URL is postgres://, a new schema created for the run
 * (the database itself is not touched otherwise; the schema is dropped afterwards unless kept).
 * The instance runs on a simulated clock the scenario moves, and serves HTTP in process (inject).
 */
export type PolicyName = 'guarded' | 'lax';

export interface Instance {
  app: App;
  http: FastifyInstance;
  clock: ReturnType<typeof fixedClock>;
  config: Config;
  keyring: Keyring;
  dataDir: string;
  /** The SQLite database file, or undefined on PostgreSQL. */
  sqliteFile: string | undefined;
  /** The PostgreSQL URL and schema of this run. */
  postgres: { url: string; schema: string } | undefined;
  kept: boolean;
  /** An HTTP request with an actor's API key (or none). */
  request(
    key: string | undefined,
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    url: string,
    body?: unknown,
  ): Promise<{ status: number; body: any }>;
  close(): Promise<void>;
}

export interface InstanceOptions {
  /** A fresh data directory to use (must be empty or absent); default: a temporary one. */
  dataDir?: string | undefined;
  /** postgres://… for PostgreSQL (a fresh schema per run); default SQLite in the data directory. */
  databaseUrl?: string | undefined;
  policy: PolicyName;
  /** The simulated clock's start. */
  start: Date;
  /** Keep the data directory (and the PostgreSQL schema) after the run. */
  keep?: boolean;
  /** SQLite page cache in MiB (default: the configuration's). */
  sqliteCacheMiB?: number | undefined;
}

export function policyFile(policy: PolicyName): string {
  const guarded = defaultPolicyFile();
  return policy === 'guarded' ? guarded : join(dirname(guarded), 'lax.yaml');
}

async function pgQuery(url: string, text: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    await client.query(text);
  } finally {
    await client.end();
  }
}

export async function openInstance(opts: InstanceOptions): Promise<Instance> {
  const given = opts.dataDir !== undefined;
  let dataDir: string;
  if (given) {
    dataDir = resolve(opts.dataDir!);
    if (existsSync(dataDir) && readdirSync(dataDir).length > 0)
      throw commonError('VALIDATION_FAILED', {
        message: `--data-dir ${dataDir} is not empty: a scenario needs a fresh data directory.`,
        details: { fields: ['dataDir'] },
      });
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  } else {
    dataDir = mkdtempSync(join(tmpdir(), 'custodian-sim-'));
  }
  const postgresUrl =
    opts.databaseUrl && dialectOf(opts.databaseUrl) === 'postgres' ? opts.databaseUrl : undefined;
  const config = loadConfig(
    {
      dataDir,
      logLevel: 'silent',
      policyFile: policyFile(opts.policy),
      ...(postgresUrl ? { databaseUrl: postgresUrl } : {}),
      ...(opts.sqliteCacheMiB ? { sqliteCacheMiB: opts.sqliteCacheMiB } : {}),
    },
    {},
  );
  writeKeyFile(config.keyFile, generateKeyFile());
  const keyring = loadKeyring(config.keyFile);

  let database: Database;
  let postgres: Instance['postgres'];
  if (postgresUrl) {
    // Schema names are identifiers: only [a-z0-9_], so the interpolation below is safe.
    const schema = `sim_${Date.now().toString(36)}_${process.pid}_${Math.floor(Math.random() * 1e6)}`;
    await pgQuery(postgresUrl, `CREATE SCHEMA ${schema}`);
    database = openDatabase(postgresUrl, { schema, poolSize: 4 });
    postgres = { url: postgresUrl, schema };
  } else {
    database = openDatabase(config.databaseUrl, {
      sqliteCacheMiB: config.sqliteCacheMiB,
      sqliteMmapMiB: config.sqliteMmapMiB,
      sqliteCheckpoint: config.sqliteCheckpoint,
    });
  }
  const clock = fixedClock(opts.start);
  let app: App;
  try {
    await migrate(database);
    app = await createApp({ config, database, keyring, clock, logger: createLogger({ level: 'silent' }) });
  } catch (e) {
    await database.close();
    if (postgres) await pgQuery(postgres.url, `DROP SCHEMA IF EXISTS ${postgres.schema} CASCADE`);
    throw e;
  }
  const http = buildHttp(app);
  await http.ready();
  const keep = Boolean(opts.keep);
  let closed = false;

  return {
    app,
    http,
    clock,
    config,
    keyring,
    dataDir,
    sqliteFile: postgres ? undefined : config.databaseUrl.replace(/^sqlite:/, ''),
    postgres,
    kept: keep || given,
    async request(key, method, url, body) {
      const res = await http.inject({
        method,
        url,
        headers: key ? { authorization: `Bearer ${key}` } : {},
        ...(body !== undefined ? { payload: body as object } : {}),
      });
      let parsed: unknown = res.body;
      if ((res.headers['content-type'] ?? '').toString().includes('json') && res.body) {
        try {
          parsed = JSON.parse(res.body);
        } catch {
          parsed = res.body;
        }
      }
      return { status: res.statusCode, body: parsed };
    },
    async close() {
      if (closed) return;
      closed = true;
      await http.close();
      await app.close();
      if (!keep) {
        if (postgres) await pgQuery(postgres.url, `DROP SCHEMA IF EXISTS ${postgres.schema} CASCADE`);
        if (!given) rmSync(dataDir, { recursive: true, force: true });
      }
    },
  };
}
