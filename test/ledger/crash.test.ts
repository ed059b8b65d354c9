import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sql } from 'kysely';
import { expect, it } from 'vitest';
import type { DialectName } from '../../src/db/index.js';
import { systemClock } from '../../src/lib/clock.js';
import { generateKeyFile, loadKeyring, writeKeyFile } from '../../src/lib/crypto/index.js';
import { createLedger, leafHash } from '../../src/modules/ledger/index.js';
import { createTestDatabase, describeEachDialect } from '../helpers/db.js';
import { ORIGIN } from './helpers.js';

/**
 * Threat: a crash (power cut, OOM kill, kill -9) in the middle of appending loses an entry the
 * ledger already acknowledged, or leaves the log in a state that no longer verifies. A child
 * process appends in batches (appendBatch and append-in-a-transaction with the sequencer running)
 * and prints each batch's leaf hashes only after its commit returned; it is killed with SIGKILL at
 * random moments. After every kill the log must integrate and verify, and hold every entry that was
 * acknowledged.
 */
const repoRoot = resolve(fileURLToPath(new URL('.', import.meta.url)), '../..');
const CHILD = join(repoRoot, 'test/ledger/crash-child.ts');
// CRASH_RUNS overrides both (e.g. a longer soak); PostgreSQL runs fewer to keep the suite bounded.
const RUNS: Record<DialectName, number> = process.env.CRASH_RUNS
  ? { sqlite: Number(process.env.CRASH_RUNS), postgres: Number(process.env.CRASH_RUNS) }
  : { sqlite: 20, postgres: 8 };

interface Child {
  proc: ChildProcessWithoutNullStreams;
  loaded: Promise<void>;
  firstAck: Promise<void>;
  exited: Promise<void>;
  /** Leaf hashes from complete "ack" lines only: a line cut by the kill acknowledged nothing. */
  acked(): string[];
}

function spawnChild(env: Record<string, string>): Child {
  const proc = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    cwd: repoRoot,
    env: { ...process.env, ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onLoaded: () => void = () => {};
  let onAck: () => void = () => {};
  const loaded = new Promise<void>((r) => {
    onLoaded = r;
  });
  const firstAck = new Promise<void>((r) => {
    onAck = r;
  });
  proc.stdout.on('data', (d: Buffer) => {
    out += d.toString('utf8');
    if (out.includes('loaded\n')) onLoaded();
    if (out.includes('\nack ')) onAck();
  });
  proc.stderr.on('data', (d: Buffer) => {
    err += d.toString('utf8');
  });
  const exited = new Promise<void>((r) => proc.once('exit', () => r()));
  void exited.then(() => {
    // A child that died on its own (not our kill) is a failure to report, with its stderr.
    if (proc.signalCode !== 'SIGKILL') throw new Error(`crash child exited by itself: ${err}`);
  });
  return {
    proc,
    loaded,
    firstAck,
    exited,
    acked: () =>
      out
        .split('\n')
        .slice(0, -1) // the last element is whatever followed the last newline
        .filter((l) => l.startsWith('ack '))
        .flatMap((l) => l.slice(4).split(','))
        .filter((h) => h.length > 0),
  };
}

const within = <T>(p: Promise<T>, ms: number, what: string) =>
  Promise.race([p, new Promise<never>((_, rej) => setTimeout(() => rej(new Error(`timeout: ${what}`)), ms))]);

describeEachDialect('ledger crash safety', (dialect) => {
  it(`loses no acknowledged entry across ${RUNS[dialect]} SIGKILLs`, { timeout: 300_000 }, async () => {
    const db = await createTestDatabase(dialect);
    const dir = mkdtempSync(join(tmpdir(), 'custodian-crash-'));
    const keyFile = join(dir, 'keys.json');
    writeKeyFile(keyFile, generateKeyFile());
    const ledger = createLedger({
      db: db.db,
      dialect,
      keyring: loadKeyring(keyFile),
      origin: ORIGIN,
      clock: systemClock,
    });
    const seed = Number(process.env.CRASH_SEED ?? Date.now() % 1_000_000);
    let rng = seed;
    const random = () => {
      rng = (rng * 1_103_515_245 + 12_345) % 2 ** 31;
      return rng / 2 ** 31;
    };
    const envFor = (run: number): Record<string, string> => ({
      CRASH_DB_URL: db.url,
      CRASH_KEY_FILE: keyFile,
      CRASH_RUN: String(run),
      CRASH_SEED: String(seed + run),
      ...(db.schema ? { CRASH_SCHEMA: db.schema } : {}),
    });
    const acked = new Set<string>();
    const present = new Set<string>();
    let checkedTo = 0;
    // Children load (the slow part) ahead of their turn, two at a time.
    const pool: Child[] = [spawnChild(envFor(0)), spawnChild(envFor(1))];
    try {
      for (let run = 0; run < RUNS[dialect]; run++) {
        const child = pool.shift() as Child;
        await within(child.loaded, 60_000, 'child load');
        child.proc.stdin.write('go\n');
        await within(child.firstAck, 30_000, 'first acknowledgement');
        await new Promise((r) => setTimeout(r, random() * 300));
        child.proc.kill('SIGKILL');
        await child.exited;
        if (run + 2 < RUNS[dialect]) pool.push(spawnChild(envFor(run + 2)));
        const got = child.acked();
        expect(got.length, `seed ${seed} run ${run}`).toBeGreaterThan(0);
        for (const h of got) acked.add(h);

        // Restart: whatever the dead child left pending is integrated, and the log verifies.
        await ledger.integrate();
        const report = await ledger.verify();
        expect(report.problems, `seed ${seed} run ${run}`).toEqual([]);
        expect(report.ok).toBe(true);
        expect(await ledger.pendingCount()).toBe(0);
        // Only the entries integrated since the last round are read and hashed.
        const size = await ledger.size();
        const rows = await sql<{
          entry: Buffer;
        }>`SELECT entry FROM ledger_entries WHERE idx >= ${checkedTo} AND idx < ${size}`.execute(db.db);
        for (const r of rows.rows) present.add(leafHash(r.entry).toString('hex'));
        checkedTo = size;
        const lost = [...acked].filter((h) => !present.has(h));
        expect(lost, `seed ${seed} run ${run}: acknowledged entries lost`).toEqual([]);
      }
      // The checkpoints the children signed along the way are all consistent with the final tree.
      const cp = await ledger.checkpoint();
      expect(cp.size).toBeGreaterThanOrEqual(acked.size);
      console.log(
        `crash test [${dialect}]: ${RUNS[dialect]} kills, ${acked.size} acknowledged, log of ${cp.size}`,
      );
      expect((await ledger.verify()).ok).toBe(true);
    } finally {
      for (const c of pool) c.proc.kill('SIGKILL');
      await Promise.all(pool.map((c) => c.exited));
      await db.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
