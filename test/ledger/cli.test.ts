import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import type { FastifyInstance } from 'fastify';
import { sql } from 'kysely';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { buildServer } from '../../src/app/http/server.js';
import type { CommandContext } from '../../src/lib/cli/index.js';
import { generateKeyFile, keyringFromFile } from '../../src/lib/crypto/index.js';
import type { Principal } from '../../src/lib/http/index.js';
import { createLogger } from '../../src/lib/log.js';
import {
  type Ledger,
  ledgerRoutes,
  registerLedgerCommands,
  type VerifyReport,
  verifyConsistency,
  verifyInclusion,
} from '../../src/modules/ledger/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { defaultPermissions } from '../helpers/permissions.js';
import { createTestLedger, dropAppendOnly, events, hexToBuf, type TestLedger } from './helpers.js';

/**
 * `custodian ledger …` run in process: a commander program with the module's commands and a
 * CommandContext over a test database. The witness (`ledger watch`) talks to real HTTP servers.
 */
interface Run {
  code: number;
  stdout: string[];
  data: unknown[];
  stderr: string;
}

async function run(ledger: Ledger, args: string[]): Promise<Run> {
  const stdout: string[] = [];
  const data: unknown[] = [];
  let stderr = '';
  const ctx: CommandContext<{ ledger: Ledger }> = {
    config: () => {
      throw new Error('not used by the ledger commands');
    },
    open: async () => ({ ledger, close: async () => {} }),
    output: (cmd) => {
      const json = Boolean(cmd.optsWithGlobals().json);
      return {
        json,
        progress: false,
        info: () => {},
        result(human, d) {
          if (json) data.push(d);
          else stdout.push(human);
        },
      };
    },
  };
  const program = new Command().exitOverride().option('--json', 'JSON output');
  registerLedgerCommands(program, ctx);
  const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    stderr += String(chunk);
    return true;
  });
  const before = process.exitCode;
  process.exitCode = undefined;
  try {
    await program.parseAsync(['node', 'custodian', ...args]);
    return { code: Number(process.exitCode ?? 0), stdout, data, stderr };
  } finally {
    process.exitCode = before;
    spy.mockRestore();
  }
}

const TOKEN = 'ctk_cli_test';
const principal: Principal = { id: 'act_witness', kind: 'service', roles: [], attributes: {} };

async function serve(ledger: Ledger): Promise<{ app: FastifyInstance; url: string }> {
  const app = buildServer({
    logger: createLogger({ level: 'silent' }),
    routes: ledgerRoutes({ ledger, permissions: defaultPermissions }),
    authenticate: async (token) => (token === TOKEN ? principal : undefined),
    health: async () => ({}),
    version: 'test',
  });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: address };
}

describeEachDialect('ledger CLI', (dialect) => {
  let t: TestLedger;
  let dir: string;
  const extra: { close(): Promise<unknown> }[] = [];
  beforeAll(async () => {
    t = await createTestLedger(dialect);
    await t.ledger.appendBatch(events(0, 300));
    dir = mkdtempSync(join(tmpdir(), 'custodian-cli-'));
  });
  afterEach(async () => {
    for (const x of extra.splice(0)) await x.close();
  });
  afterAll(async () => {
    await t.db.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('checkpoint prints the signed note; public-key the verifier key', async () => {
    const cp = await run(t.ledger, ['ledger', 'checkpoint']);
    expect(cp.code).toBe(0);
    expect(cp.stdout[0]?.split('\n').slice(0, 2)).toEqual([t.ledger.origin, '300']);
    expect(cp.stdout[0]).toContain('\u2014 ');
    writeFileSync(join(dir, 'cp300.txt'), `${cp.stdout[0]}\n`);
    const key = await run(t.ledger, ['--json', 'ledger', 'public-key']);
    expect(key.data[0]).toEqual({ origin: t.ledger.origin, vkey: t.ledger.vkey() });
  });

  it('proof prints inclusion and consistency proofs that verify', async () => {
    const inc = await run(t.ledger, ['--json', 'ledger', 'proof', '--index', '42']);
    expect(inc.code).toBe(0);
    const p = inc.data[0] as { index: number; size: number; leafHash: string; root: string; proof: string[] };
    expect(
      verifyInclusion({
        index: 42,
        size: p.size,
        leafHash: hexToBuf(p.leafHash),
        proof: p.proof.map(hexToBuf),
        root: hexToBuf(p.root),
      }),
    ).toBe(true);
    const byLeaf = await run(t.ledger, ['ledger', 'proof', '--leaf', p.leafHash, '--size', '100']);
    expect(byLeaf.code).toBe(0);
    expect(byLeaf.stdout[0]).toContain('inclusion of entry 42 in the tree of size 100');
    const con = await run(t.ledger, ['--json', 'ledger', 'proof', '--from', '100', '--to', '300']);
    const c = con.data[0] as { fromRoot: string; toRoot: string; proof: string[] };
    expect(
      verifyConsistency({
        size1: 100,
        size2: 300,
        root1: hexToBuf(c.fromRoot),
        root2: hexToBuf(c.toRoot),
        proof: c.proof.map(hexToBuf),
      }),
    ).toBe(true);
  });

  it('proof refuses bad usage with exit code 2 and reports lookups that fail with 1', async () => {
    for (const args of [
      ['ledger', 'proof'],
      ['ledger', 'proof', '--index', '1', '--leaf', 'ab'.repeat(32)],
      ['ledger', 'proof', '--index', '1', '--from', '1', '--to', '2'],
      ['ledger', 'proof', '--index', 'x'],
      ['ledger', 'proof', '--from', '3'],
      ['ledger', 'proof', '--leaf', 'nothex'],
    ]) {
      const r = await run(t.ledger, args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/^custodian: LEDGER_QUERY_INVALID: /);
    }
    const missing = await run(t.ledger, ['--json', 'ledger', 'proof', '--index', '300']);
    expect(missing.code).toBe(1);
    expect(missing.data[0]).toMatchObject({ error: { code: 'LEDGER_INDEX_OUT_OF_RANGE' } });
  });

  it('verify exits 0 on an intact log, also against a kept checkpoint', async () => {
    const r = await run(t.ledger, ['ledger', 'verify', '--checkpoint', join(dir, 'cp300.txt')]);
    expect(r.code).toBe(0);
    expect(r.stdout[0]).toMatch(/^ledger intact: 300 entries/);
    const j = await run(t.ledger, ['--json', 'ledger', 'verify']);
    expect((j.data[0] as VerifyReport).ok).toBe(true);
    const bad = await run(t.ledger, ['ledger', 'verify', '--checkpoint', join(dir, 'no-such-file')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('LEDGER_CHECKPOINT_INVALID');
  });

  it('verify exits 1 and names the first bad index when the log was altered', async () => {
    const other = await createTestLedger(dialect);
    try {
      await other.ledger.appendBatch(events(0, 50));
      await other.ledger.checkpoint();
      await dropAppendOnly(other.db.db, dialect, 'ledger_entries');
      await sql`DELETE FROM ledger_entries WHERE idx = 17`.execute(other.db.db);
      const r = await run(other.ledger, ['ledger', 'verify']);
      expect(r.code).toBe(1);
      expect(r.stdout[0]).toContain('ledger NOT intact: first bad index 17');
      expect(r.stdout[0]).toContain('#17 missing');
      const j = await run(other.ledger, ['--json', 'ledger', 'verify']);
      expect(j.code).toBe(1);
      expect(j.data[0]).toMatchObject({ ok: false, firstBadIndex: 17 });
    } finally {
      await other.db.destroy();
    }
  });

  it('watch pins the key, follows a growing log, and exits 1 on a split view', async () => {
    const { app, url } = await serve(t.ledger);
    extra.push(app);
    const state = join(dir, `witness-${dialect}.json`);
    const watch = (u: string, more: string[] = []) =>
      run(t.ledger, ['ledger', 'watch', '--url', u, '--state', state, '--token', TOKEN, '--once', ...more]);

    const first = await watch(url);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stdout[0]).toContain('pinned the log key on first contact');
    const saved = JSON.parse(readFileSync(state, 'utf8')) as { vkey: string; size: number };
    expect(saved).toMatchObject({ vkey: t.ledger.vkey(), size: 300 });

    expect((await watch(url)).stdout[0]).toContain('unchanged');
    await t.ledger.appendBatch(events(300, 77));
    await t.ledger.checkpoint();
    const grown = await watch(url);
    expect(grown.code).toBe(0);
    expect(grown.stdout[0]).toContain('tree of 377 entries extends 300');

    // A second log with the same key and origin but another history: what a log operator would
    // show one party to hide an entry from it.
    const fork = await createTestLedger(dialect, { keyring: t.keyring });
    extra.push({ close: () => fork.db.destroy() });
    await fork.ledger.appendBatch(events(0, 300));
    await fork.ledger.appendBatch(events(5000, 100));
    await fork.ledger.checkpoint();
    const forkServer = await serve(fork.ledger);
    extra.unshift(forkServer.app);
    const split = await watch(forkServer.url);
    expect(split.code).toBe(1);
    expect(split.stderr).toContain('LEDGER_SPLIT_VIEW');
    // The witness keeps what it saw; the honest log still checks out.
    expect(JSON.parse(readFileSync(state, 'utf8')).size).toBe(377);
    expect((await watch(url)).code).toBe(0);
  });

  it('watch refuses a checkpoint under another key, a rolled-back log, and a changed pinned key', async () => {
    const stranger = await createTestLedger(dialect, { keyring: keyringFromFile(generateKeyFile()) });
    extra.push({ close: () => stranger.db.destroy() });
    await stranger.ledger.appendBatch(events(0, 400));
    await stranger.ledger.checkpoint();
    const { app, url } = await serve(stranger.ledger);
    extra.unshift(app);
    const state = join(dir, `witness-${dialect}.json`);
    const r = await run(t.ledger, [
      '--json',
      'ledger',
      'watch',
      '--url',
      url,
      '--state',
      state,
      '--token',
      TOKEN,
      '--once',
    ]);
    expect(r.code).toBe(1);
    expect(r.data[0]).toMatchObject({ ok: false, code: 'LEDGER_CHECKPOINT_INVALID' });

    const rolled = await createTestLedger(dialect, { keyring: t.keyring });
    extra.push({ close: () => rolled.db.destroy() });
    await rolled.ledger.appendBatch(events(0, 300));
    await rolled.ledger.checkpoint();
    const rolledServer = await serve(rolled.ledger);
    extra.unshift(rolledServer.app);
    const back = await run(t.ledger, [
      'ledger',
      'watch',
      '--url',
      rolledServer.url,
      '--state',
      state,
      '--once',
    ]);
    expect(back.code).toBe(1);
    expect(back.stderr).toContain('LEDGER_SPLIT_VIEW');

    const otherKey = stranger.ledger.vkey();
    const changed = await run(t.ledger, [
      'ledger',
      'watch',
      '--url',
      url,
      '--state',
      state,
      '--key',
      otherKey,
      '--once',
    ]);
    expect(changed.code).toBe(1);
    expect(changed.stderr).toContain('LEDGER_WITNESS_STATE_INVALID');
  });
});
