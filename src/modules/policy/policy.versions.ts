import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isUniqueViolation } from '../../db/index.js';
import { commonError } from '../../lib/errors.js';
import { type CompiledPolicy, compilePolicy, permitsAction, plainRoles } from './compile.js';
import { type Decision, type DecisionInput, decide } from './decide.js';
import { eventsRecorder, type PolicyServiceDeps } from './policy.deps.js';
import { policyError } from './policy.errors.js';
import { type Executor, policyVersions } from './policy.repo.js';

// The policy's versions: loading a text (validated, recorded, never a reused version), its
// history, and the active policy every decision and permission check reads, cached and re-checked
// against the database every `refreshMs` so every node picks up a change.

export interface PolicyVersionInfo {
  seq: number;
  name: string;
  version: string;
  hash: string;
  loadedAt: string;
  loadedBy: string | null;
}

export interface LoadResult {
  changed: boolean;
  name: string;
  version: string;
  hash: string;
  previous: { version: string; hash: string } | null;
}

/**
 * The packaged default policy ("guarded"). Found by walking up from this file, so it resolves the
 * same from src/ (tsx, vitest) and from dist/src/ (the build).
 */
export function defaultPolicyFile(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, 'policies', 'default.yaml');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  return resolve('policies/default.yaml');
}

export function readPolicyFile(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw policyError('POLICY_FILE_UNREADABLE', { cause: e, details: { file: path } });
  }
}

export type PolicyVersions = ReturnType<typeof createPolicyVersions>;

export function createPolicyVersions(deps: PolicyServiceDeps) {
  const record = eventsRecorder(deps);
  const refreshMs = deps.refreshMs ?? 5_000;
  let cached: CompiledPolicy | undefined;
  let cachedSeq = 0;
  let checkedAt = Number.NEGATIVE_INFINITY;

  function remember(p: CompiledPolicy, seq: number): void {
    cached = p;
    cachedSeq = seq;
    checkedAt = deps.clock.now().getTime();
  }

  // Reads through the caller's executor: on SQLite a transaction holds the only connection, so a
  // query on deps.db from inside it would wait forever.
  async function refresh(db: Executor = deps.db): Promise<CompiledPolicy | undefined> {
    const head = await policyVersions.latestHash(db);
    if (!head) return undefined;
    if (cached && head.seq === cachedSeq) {
      checkedAt = deps.clock.now().getTime();
      return cached;
    }
    const row = await policyVersions.latest(db);
    if (!row) return undefined;
    remember(compilePolicy(row.body), row.seq);
    return cached;
  }

  const self = {
    /** Loads the policy from the database, or the policy file when the database has none yet. */
    async init(): Promise<CompiledPolicy> {
      const p = await refresh();
      if (p) return p;
      const file = deps.policyFile ?? defaultPolicyFile();
      await self.load(readPolicyFile(file), { by: null });
      return cached!;
    },

    /**
     * Validates and activates a policy text. Unchanged text is a no-op. A version names one text:
     * reusing a version for a different text is refused. Records 'policy.changed' (version, hash)
     * in the same transaction as the new version row.
     */
    async load(text: string, opts: { by: string | null }): Promise<LoadResult> {
      const compiled = compilePolicy(text);
      let result: LoadResult | undefined;
      let seq = 0;
      try {
        await deps.db.transaction().execute(async (trx) => {
          const latest = await policyVersions.latest(trx);
          const previous = latest ? { version: latest.version, hash: latest.hash } : null;
          if (latest?.hash === compiled.hash) {
            result = {
              changed: false,
              name: compiled.name,
              version: compiled.version,
              hash: compiled.hash,
              previous,
            };
            seq = latest.seq;
            return;
          }
          const sameVersion = await policyVersions.byVersion(trx, compiled.version);
          if (sameVersion.some((r) => r.hash !== compiled.hash)) {
            throw policyError('POLICY_VERSION_REUSED', { details: { version: compiled.version } });
          }
          seq = (latest?.seq ?? 0) + 1;
          const at = deps.clock.now().toISOString();
          await policyVersions.insert(trx, {
            seq,
            version: compiled.version,
            name: compiled.name,
            hash: compiled.hash,
            body: text,
            loaded_at: at,
            loaded_by: opts.by,
          });
          await record(trx, [
            {
              kind: 'policy.changed',
              at,
              actor: opts.by,
              attrs: {
                name: compiled.name,
                version: compiled.version,
                hash: compiled.hash,
                previousVersion: previous?.version ?? null,
                previousHash: previous?.hash ?? null,
              },
            },
          ]);
          result = {
            changed: true,
            name: compiled.name,
            version: compiled.version,
            hash: compiled.hash,
            previous,
          };
        });
      } catch (e) {
        if (isUniqueViolation(e)) throw commonError('CONFLICT', { cause: e });
        throw e;
      }
      remember(compiled, seq);
      return result!;
    },

    async loadFile(path: string, opts: { by: string | null }): Promise<LoadResult> {
      return self.load(readPolicyFile(path), opts);
    },

    /**
     * The active policy, re-checked against the database at most every `refreshMs`. Inside a
     * transaction, pass it as `executor`.
     */
    async active(executor?: Executor): Promise<CompiledPolicy> {
      if (cached && deps.clock.now().getTime() - checkedAt < refreshMs) return cached;
      const p = await refresh(executor);
      if (!p) throw policyError('POLICY_NOT_LOADED');
      return p;
    },

    /** The cached active policy (no I/O); undefined before init()/load(). */
    current(): CompiledPolicy | undefined {
      return cached;
    },

    /**
     * Of these roles, those the active policy lets see some field in plain (four-eyes on creating
     * or granting them). Before a policy is loaded every role counts, the cautious side.
     */
    plainRoles(roles: readonly string[]): string[] {
      return cached ? plainRoles(cached, roles) : [...new Set(roles)];
    },

    /**
     * Whether one of these roles holds `action` (a `permissions:` name) under the active policy
     * (the cache, checked against the database as active() does), or under the defaults before one
     * is loaded. The routes' one answer to "who may do what".
     */
    async permits(roles: readonly string[], action: string): Promise<boolean> {
      const stale = !cached || deps.clock.now().getTime() - checkedAt >= refreshMs;
      return permitsAction(stale ? ((await refresh()) ?? cached) : cached, roles, action);
    },

    /** decide() against the cached active policy. Pure apart from reading the cache. */
    decide(input: DecisionInput): Decision {
      if (!cached) throw policyError('POLICY_NOT_LOADED');
      return decide(cached, input);
    },

    async show(): Promise<PolicyVersionInfo & { text: string; timezone: string }> {
      const row = await policyVersions.latest(deps.db);
      if (!row) throw policyError('POLICY_NOT_LOADED');
      const p = compilePolicy(row.body);
      return {
        seq: row.seq,
        name: row.name,
        version: row.version,
        hash: row.hash,
        loadedAt: row.loaded_at,
        loadedBy: row.loaded_by,
        text: row.body,
        timezone: p.timezone,
      };
    },

    async versions(): Promise<PolicyVersionInfo[]> {
      const rows = await policyVersions.list(deps.db);
      return rows.map((r) => ({
        seq: r.seq,
        name: r.name,
        version: r.version,
        hash: r.hash,
        loadedAt: r.loaded_at,
        loadedBy: r.loaded_by,
      }));
    },
  };
  return self;
}
