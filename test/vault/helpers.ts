import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { loadConfig } from '../../src/config.js';
import { toBuffer } from '../../src/db/index.js';
import type { AuditEvent, DbExecutor, Recorder } from '../../src/lib/audit.js';
import type { CommandContext, Output } from '../../src/lib/cli/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { generateKeyFile, type Keyring, loadKeyring, writeKeyFile } from '../../src/lib/crypto/index.js';
import { customersCsv, generateCustomers } from '../../src/modules/sim/index.js';
import { decodeEntries } from '../../src/modules/vault/entries.js';
import {
  createVault,
  loadCatalog,
  registerVaultCommands,
  type Vault,
} from '../../src/modules/vault/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/**
 * A vault over a fresh test database, with a real key file in a temporary directory and a
 * recorder that keeps events in memory and refuses to be called outside a transaction (events
 * must commit or roll back with the change they record; the tests where the recorder fails show
 * the change rolling back with it). No extra table: schema-parity checks introspect every schema.
 */
export interface VaultFixture {
  db: TestDatabase;
  vault: Vault;
  keyring: Keyring;
  keyFile: string;
  dir: string;
  clock: ReturnType<typeof fixedClock>;
  events(): Promise<AuditEvent[]>;
  counts(): Promise<Record<string, number>>;
  destroy(): Promise<void>;
}

export const VAULT_TABLES = ['subjects', 'blind_index'] as const;

export async function vaultFixture(
  dialect: 'sqlite' | 'postgres',
  options: { catalogFile?: string; poolSize?: number } = {},
): Promise<VaultFixture> {
  const db = await createTestDatabase(dialect, { poolSize: options.poolSize ?? 4 });
  const dir = mkdtempSync(join(tmpdir(), 'custodian-vault-'));
  const keyFile = join(dir, 'keys.json');
  writeKeyFile(keyFile, generateKeyFile());
  const keyring = loadKeyring(keyFile);
  const recorded: AuditEvent[] = [];
  const record: Recorder = async (trx: DbExecutor, events: readonly AuditEvent[]) => {
    if (!trx.isTransaction) throw new Error('events must be recorded inside the transaction of the change');
    recorded.push(...structuredClone(events));
    return events.map(() => '00');
  };
  const clock = fixedClock('2024-06-01T08:00:00.000Z');
  const vault = createVault({
    db: db.db,
    dialect,
    keyring,
    catalog: loadCatalog(options.catalogFile),
    clock,
    record,
  });
  return {
    db,
    vault,
    keyring,
    keyFile,
    dir,
    clock,
    async events() {
      return recorded;
    },
    async counts() {
      const out: Record<string, number> = {};
      for (const t of VAULT_TABLES) {
        const r = await db.db
          .selectFrom(t)
          .select((eb) => eb.fn.countAll().as('n'))
          .executeTakeFirstOrThrow();
        out[t] = Number(r.n);
      }
      // Sealed fields live in their subject's row (an entry list): count the entries.
      const rows = await db.db.selectFrom('subjects').select('sealed').execute();
      out.sealed_fields = rows.reduce(
        (n, r) => n + (r.sealed == null ? 0 : decodeEntries(toBuffer(r.sealed))!.length),
        0,
      );
      return out;
    },
    async destroy() {
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Synthetic customers from the sim generator (seeded, so every run sees the same people). */
export function customers(seed: string, count: number, start = 0) {
  return [...generateCustomers({ seed, count, start })];
}

export function customersCsvBytes(seed: string, count: number): Buffer {
  return Buffer.from([...customersCsv({ seed, count })].join(''), 'utf8');
}

export function csv(lines: readonly string[]): Buffer {
  return Buffer.from(lines.map((l) => `${l}\n`).join(''), 'utf8');
}

/**
 * A CommandContext over a fixture's vault, capturing output, for running the vault's commands in
 * process with commander. `close` leaves the shared database open.
 */
export function cliHarness(vault: Vault, dir: string) {
  const printed: { human: string; data: unknown }[] = [];
  const notes: string[] = [];
  const ctx: CommandContext<{ vault: Vault }> = {
    config: () => loadConfig({ dataDir: dir }),
    open: async () => ({ vault, close: async () => {} }),
    output: (cmd: Command): Output => {
      const json = Boolean(cmd.opts().json);
      return {
        json,
        progress: false,
        result: (human, data) =>
          printed.push({ human, data: json ? JSON.parse(JSON.stringify(data ?? null)) : data }),
        info: (line) => notes.push(line),
      };
    },
  };
  async function run(args: string[]): Promise<{ exitCode: number; printed: typeof printed }> {
    const program = new Command().exitOverride();
    registerVaultCommands(program, ctx);
    printed.length = 0;
    const saved = process.exitCode;
    process.exitCode = undefined;
    try {
      await program.parseAsync(['node', 'custodian', ...args]);
      return { exitCode: Number(process.exitCode ?? 0), printed: [...printed] };
    } finally {
      process.exitCode = saved;
    }
  }
  return { ctx, run, notes };
}
