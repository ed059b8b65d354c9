import { resolve } from 'node:path';
import { z } from 'zod';

/**
 * One schema, parsed once in the entry points and passed down. A missing or bad value stops
 * start-up naming the variable. Secrets have no defaults: keys live in the key file, which
 * `custodian init` generates. Auditing is not configurable.
 */
export const ENV = {
  dataDir: 'CUSTODIAN_DATA_DIR',
  databaseUrl: 'DATABASE_URL',
  keyFile: 'CUSTODIAN_KEY_FILE',
  host: 'CUSTODIAN_HOST',
  port: 'CUSTODIAN_PORT',
  tlsCert: 'CUSTODIAN_TLS_CERT',
  tlsKey: 'CUSTODIAN_TLS_KEY',
  logLevel: 'CUSTODIAN_LOG_LEVEL',
  ledgerOrigin: 'CUSTODIAN_LEDGER_ORIGIN',
  catalogFile: 'CUSTODIAN_CATALOG_FILE',
  policyFile: 'CUSTODIAN_POLICY_FILE',
  jurisdiction: 'CUSTODIAN_JURISDICTION',
  sqliteCacheMiB: 'CUSTODIAN_SQLITE_CACHE_MIB',
  sqliteMmapMiB: 'CUSTODIAN_SQLITE_MMAP_MIB',
  sqliteCheckpoint: 'CUSTODIAN_SQLITE_CHECKPOINT',
  traceRetentionDays: 'CUSTODIAN_TRACE_RETENTION_DAYS',
  messaging: 'CUSTODIAN_MESSAGING',
  smsUrl: 'CUSTODIAN_SMS_URL',
  mailUrl: 'CUSTODIAN_MAIL_URL',
  messagingToken: 'CUSTODIAN_MESSAGING_TOKEN',
  mailFrom: 'CUSTODIAN_MAIL_FROM',
  rightsRulesFile: 'CUSTODIAN_RIGHTS_RULES_FILE',
  rateLimits: 'CUSTODIAN_RATE_LIMITS',
  bodyLimits: 'CUSTODIAN_BODY_LIMITS',
  ipRateLimit: 'CUSTODIAN_IP_RATE_LIMIT',
  maxEventLoopDelayMs: 'CUSTODIAN_MAX_EVENT_LOOP_DELAY_MS',
  shutdownTimeoutMs: 'CUSTODIAN_SHUTDOWN_TIMEOUT_MS',
  authCacheMs: 'CUSTODIAN_AUTH_CACHE_MS',
} as const;

/**
 * SQLite's page cache per connection. 64 MiB serves a few hundred thousand subjects; a vault of
 * millions wants its random-keyed B-trees (subject ids, blind index: about 0.4 KB a subject) in
 * memory, or every write first reads its page back from the file (docs/vault.md, Performance).
 */
export const DEFAULT_SQLITE_CACHE_MIB = 64;

/**
 * How much of the SQLite file reads go through a memory map (0: none, every page through the page
 * cache). The map's pages are the kernel's file cache, counted in the process's RSS (ADR 0018).
 */
export const DEFAULT_SQLITE_MMAP_MIB = 2048;

const Limit = z.object({ rate: z.number().positive(), burst: z.number().min(1) }).strict();
/** JSON in an environment variable: `{"employee":{"rate":10,"burst":40},"roles":{"auditor":{…}}}`. */
const jsonOf = <T extends z.ZodType>(schema: T) =>
  z
    .string()
    .transform((s, ctx) => {
      try {
        return JSON.parse(s) as unknown;
      } catch {
        ctx.addIssue({ code: 'custom', message: 'must be JSON' });
        return z.NEVER;
      }
    })
    .pipe(schema)
    .optional();
const RateLimitsSchema = z
  .object({
    employee: Limit.optional(),
    partner: Limit.optional(),
    service: Limit.optional(),
    roles: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), Limit).optional(),
  })
  .strict();
const Bytes = z.number().int().min(1024);
const BodyLimitsSchema = z
  .object({
    employee: Bytes.optional(),
    partner: Bytes.optional(),
    service: Bytes.optional(),
    roles: z.record(z.string().regex(/^[a-z][a-z0-9_]*$/), Bytes).optional(),
  })
  .strict();

const ConfigSchema = z.object({
  dataDir: z.string().min(1),
  databaseUrl: z.string().min(1).refine(validDatabaseUrl, {
    message: 'must be sqlite:PATH, postgres://…, or an absolute or ./relative file path',
  }),
  keyFile: z.string().min(1),
  host: z.string().min(1),
  port: z.coerce.number().int().min(0).max(65535),
  tlsCert: z.string().min(1).optional(),
  tlsKey: z.string().min(1).optional(),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
  ledgerOrigin: z.string().regex(/^[A-Za-z0-9.\-_/:]+$/, 'must be a key name: letters, digits and . - _ / :'),
  catalogFile: z.string().min(1).optional(),
  policyFile: z.string().min(1).optional(),
  jurisdiction: z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
  sqliteCacheMiB: z.coerce.number().int().min(2).max(65536),
  sqliteMmapMiB: z.coerce.number().int().min(0).max(2048),
  sqliteCheckpoint: z.enum(['worker', 'inline']),
  traceRetentionDays: z.coerce.number().int().min(1).max(3650),
  // Messaging gateway (rights portal codes, breach notices): docs/rights.md.
  messaging: z.enum(['outbox', 'http']),
  smsUrl: z.url({ protocol: /^https?$/ }).optional(),
  mailUrl: z.url({ protocol: /^https?$/ }).optional(),
  messagingToken: z.string().min(1).optional(),
  mailFrom: z.string().min(1).max(256).optional(),
  rightsRulesFile: z.string().min(1).optional(),
  /** Per-actor limits in subjects per second, by kind and role (src/app/ratelimit.ts). */
  rateLimits: jsonOf(RateLimitsSchema),
  /** Request body limits in bytes, by kind and role (src/app/http/server.ts). */
  bodyLimits: jsonOf(BodyLimitsSchema),
  /** Requests per minute per client address before authentication (0: off). */
  ipRateLimit: z.coerce.number().int().min(0),
  maxEventLoopDelayMs: z.coerce.number().int().min(0),
  /** How long `serve` waits for requests in flight on SIGTERM before it exits anyway. */
  shutdownTimeoutMs: z.coerce.number().int().min(0),
  /** How long an authenticated API key is trusted from memory before the database is asked again (0: off). */
  authCacheMs: z.coerce.number().int().min(0).max(60_000),
});

export type Config = z.infer<typeof ConfigSchema>;

/**
 * `sqlite:PATH`, `postgres://…`/`postgresql://…`, `:memory:`, or a file path that looks like one
 * (absolute, ./ or ../, or ending in .db/.sqlite). Anything else (`garbage url`, `mysql://…`,
 * `postgres:/x`) is refused rather than silently becoming a new SQLite file in the working directory.
 */
export function validDatabaseUrl(u: string): boolean {
  if (/^postgres(ql)?:\/\/[^\s]+$/.test(u)) return true;
  if (u.startsWith('sqlite:')) return u.length > 'sqlite:'.length && !/\s/.test(u.slice(7, 8));
  if (/^[a-z][a-z0-9+.-]*:/i.test(u) && u !== ':memory:') return false;
  if (u === ':memory:') return true;
  if (/\s/.test(u) && !/^(\/|\.\.?\/)/.test(u)) return false;
  return /^(\/|\.\.?\/)/.test(u) || /\.(db|sqlite3?)$/i.test(u);
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`configuration: ${variable} ${reason}`);
  }
}

export type ConfigOverrides = Partial<Record<keyof typeof ENV, string | number | undefined>>;

/** Flags win over environment variables, which win over defaults derived from the data directory. */
export function loadConfig(overrides: ConfigOverrides = {}, env: NodeJS.ProcessEnv = process.env): Config {
  const pick = (k: keyof typeof ENV): string | number | undefined => {
    const o = overrides[k];
    if (o !== undefined && o !== '') return o;
    const e = env[ENV[k]];
    return e === undefined || e === '' ? undefined : e;
  };
  const dataDir = resolve(String(pick('dataDir') ?? '.custodian'));
  const raw = {
    dataDir,
    databaseUrl: pick('databaseUrl') ?? `sqlite:${resolve(dataDir, 'custodian.db')}`,
    keyFile: pick('keyFile') ?? resolve(dataDir, 'keys.json'),
    host: pick('host') ?? '127.0.0.1',
    port: pick('port') ?? 8080,
    tlsCert: pick('tlsCert'),
    tlsKey: pick('tlsKey'),
    logLevel: pick('logLevel') ?? 'info',
    ledgerOrigin: pick('ledgerOrigin') ?? 'custodian.local/ledger',
    catalogFile: pick('catalogFile'),
    policyFile: pick('policyFile'),
    jurisdiction: pick('jurisdiction') ?? 'CN',
    sqliteCacheMiB: pick('sqliteCacheMiB') ?? DEFAULT_SQLITE_CACHE_MIB,
    sqliteMmapMiB: pick('sqliteMmapMiB') ?? DEFAULT_SQLITE_MMAP_MIB,
    sqliteCheckpoint: pick('sqliteCheckpoint') ?? 'worker',
    traceRetentionDays: pick('traceRetentionDays') ?? 30,
    messaging: pick('messaging') ?? 'outbox',
    smsUrl: pick('smsUrl'),
    mailUrl: pick('mailUrl'),
    messagingToken: pick('messagingToken'),
    mailFrom: pick('mailFrom'),
    rightsRulesFile: pick('rightsRulesFile'),
    rateLimits: pick('rateLimits'),
    bodyLimits: pick('bodyLimits'),
    ipRateLimit: pick('ipRateLimit') ?? 1200,
    maxEventLoopDelayMs: pick('maxEventLoopDelayMs') ?? 0,
    shutdownTimeoutMs: pick('shutdownTimeoutMs') ?? 10_000,
    authCacheMs: pick('authCacheMs') ?? 1000,
  };
  const parsed = ConfigSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const key = String(issue.path[0]) as keyof typeof ENV;
    throw new ConfigError(ENV[key] ?? key, issue.message);
  }
  if (Boolean(parsed.data.tlsCert) !== Boolean(parsed.data.tlsKey)) {
    throw new ConfigError(
      parsed.data.tlsCert ? ENV.tlsKey : ENV.tlsCert,
      'is required when the other TLS file is set',
    );
  }
  if (parsed.data.messaging === 'http') {
    if (!parsed.data.smsUrl && !parsed.data.mailUrl)
      throw new ConfigError(ENV.smsUrl, `or ${ENV.mailUrl} is required when ${ENV.messaging}=http`);
    // A provider's credential is a secret: no default, and start-up stops without it.
    if (!parsed.data.messagingToken)
      throw new ConfigError(ENV.messagingToken, `is required when ${ENV.messaging}=http`);
  }
  return parsed.data;
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
