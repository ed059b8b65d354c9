/**
 * Threat: a key-encryption key must be replaced (suspected exposure, staff departure, policy) and
 * the service cannot stop for it. Rotation must rewrap every data key under a new KEK while other
 * processes keep reading, with no failed read, and must not keep the old KEK around once nothing
 * needs it — nor drop it while something still does.
 */
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateKeyFile, keyringFromFile, loadKeyring, readKeyFile } from '../../src/lib/crypto/index.js';
import { isAppError } from '../../src/lib/errors.js';
import {
  createVault,
  importSubjects,
  keyVersionCounts,
  loadCatalog,
  openSubjectFields,
  rotateKeys,
} from '../../src/modules/vault/index.js';
import { describeEachDialect, enabledDialects } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';
import { cliHarness, customers, customersCsvBytes, type VaultFixture, vaultFixture } from './helpers.js';

const READER = fileURLToPath(new URL('./fixtures/reader.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../', import.meta.url));

async function importCustomers(f: VaultFixture, seed: string, count: number) {
  const r = await importSubjects(f.vault, [customersCsvBytes(seed, count)], { batchSize: 1000 });
  expect(r.aborted).toBeUndefined();
  const ids = await f.vault.resolveExternalIds(customers(seed, count).map((c) => c.external_id));
  return customers(seed, count)
    .filter((c) => ids.has(c.external_id))
    .map((c) => ({ id: ids.get(c.external_id)!, mobile: `+86${c.mobile}`, name: c.name }));
}

describe.runIf(enabledDialects().includes('sqlite'))(
  'keys rotate while another process reads [sqlite]',
  () => {
    let f: VaultFixture;
    beforeAll(async () => {
      f = await vaultFixture('sqlite');
    });
    afterAll(async () => {
      await f.destroy();
    });

    it(
      'rewraps every data key with zero failed reads in the other process',
      {
        timeout: 240_000,
      },
      async () => {
        const count = Number(process.env.VAULT_ROTATION_COUNT ?? 10_000);
        const subjects = await importCustomers(f, 'rotation', count);
        const expectedFile = join(f.dir, 'expected.json');
        writeFileSync(expectedFile, JSON.stringify(subjects.filter((_, i) => i % 37 === 0)));

        const child: ChildProcessWithoutNullStreams = spawn(
          process.execPath,
          ['--import', 'tsx', READER, f.db.file!, f.keyFile, expectedFile],
          { cwd: ROOT, stdio: 'pipe' },
        );
        let stderr = '';
        child.stderr.on('data', (d) => {
          stderr += String(d);
        });
        let reads = 0;
        const timeline: [reads: number, at: number][] = [];
        let final: { reads: number; failures: number; codes: Record<string, number> } | undefined;
        const waiters: { n: number; resolve: () => void }[] = [];
        createInterface({ input: child.stdout }).on('line', (line) => {
          if (line.startsWith('reads ')) {
            const [, n, at] = line.split(' ');
            reads = Number(n);
            timeline.push([reads, Number(at)]);
          } else if (line.startsWith('{')) final = JSON.parse(line);
          for (const w of waiters.splice(0)) {
            if (reads >= w.n) w.resolve();
            else waiters.push(w);
          }
        });
        const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
        const readsReach = (n: number) =>
          new Promise<void>((resolve, reject) => {
            waiters.push({ n, resolve });
            void exited.then(() => reject(new Error(`reader exited early: ${stderr}`)));
          });

        await readsReach(100);
        const cli = cliHarness(f.vault, f.dir);
        // SQLite runs synchronously in this process, so the child's lines are read after the fact:
        // compare the times it stamped with the rotation's start and end.
        const startedAt = Date.now();
        const { exitCode, printed } = await cli.run(['keys', 'rotate', '--batch-size', '100', '--json']);
        const endedAt = Date.now();
        await readsReach(reads + 200);
        child.stdin.end();
        expect(await exited).toBe(0);

        expect(exitCode).toBe(0);
        expect(printed[0]!.data).toEqual({ from: [1], to: 2, rewrapped: subjects.length, retired: [1] });
        expect(final).toBeDefined();
        expect(final!.codes).toEqual({});
        expect(final!.failures).toBe(0);
        // Reads went on during the rotation, not only before and after it.
        const during = timeline.filter(([, at]) => at > startedAt && at < endedAt);
        expect(during.length).toBeGreaterThan(1);
        expect(timeline.some(([, at]) => at > endedAt)).toBe(true);

        expect(await keyVersionCounts(f.vault)).toEqual(new Map([[2, subjects.length]]));
        const file = readKeyFile(f.keyFile);
        expect(file.kek.current).toBe(2);
        expect(Object.keys(file.kek.versions)).toEqual(['2']);
        // A process started after the rotation, knowing only the new KEK, reads everything.
        const fresh = createVault({
          db: f.db.db,
          dialect: 'sqlite',
          keyring: loadKeyring(f.keyFile),
          catalog: loadCatalog(),
          clock: f.clock,
          record: memoryRecorder().record,
        });
        for (const s of subjects.slice(0, 50)) {
          expect(await openSubjectFields(fresh, f.db.db, s.id, ['mobile'])).toEqual({ mobile: s.mobile });
        }
      },
    );
  },
);

describeEachDialect('key rotation', (dialect) => {
  let f: VaultFixture;
  let subjects: { id: string; mobile: string; name: string }[];
  beforeAll(async () => {
    f = await vaultFixture(dialect);
    subjects = await importCustomers(f, `rotation-${dialect}`, 1500);
  });
  afterAll(async () => {
    await f.destroy();
  });

  it('keeps reads in this process going while it rewraps in batches', async () => {
    let done = false;
    let reads = 0;
    let failures = 0;
    const progress: number[] = [];
    const rotation = rotateKeys(f.vault, { batchSize: 50, onProgress: (p) => progress.push(p.done) }).finally(
      () => {
        done = true;
      },
    );
    for (let i = 0; !done; i++) {
      const s = subjects[i % subjects.length]!;
      try {
        const v = await openSubjectFields(f.vault, f.db.db, s.id, ['mobile']);
        if (v.mobile === s.mobile) reads++;
        else failures++;
      } catch {
        failures++;
      }
    }
    const result = await rotation;
    expect(failures).toBe(0);
    expect(reads).toBeGreaterThan(0);
    expect(result).toEqual({ from: [1], to: 2, rewrapped: subjects.length, retired: [1] });
    expect(progress.at(-1)).toBe(subjects.length);
    expect(progress.length).toBeGreaterThan(subjects.length / 50);
    expect(await keyVersionCounts(f.vault)).toEqual(new Map([[2, subjects.length]]));
    const events = await f.events();
    expect(events.at(-1)).toEqual({
      kind: 'keys.rotated',
      actor: null,
      attrs: { from: ['1'], to: 2, rewrapped: subjects.length, retired: ['1'] },
    });
  });

  it('makes a writer that loaded the key file before the rotation wrap under the new KEK', async () => {
    const stale = createVault({
      db: f.db.db,
      dialect,
      keyring: loadKeyring(f.keyFile),
      catalog: loadCatalog(),
      clock: f.clock,
      record: memoryRecorder().record,
    });
    const r = await cliHarness(f.vault, f.dir).run(['keys', 'rotate', '--keep-old', '--json']);
    expect(r.exitCode).toBe(0);
    expect(r.printed[0]!.data).toMatchObject({ from: [2], to: 3, retired: [] });
    expect(Object.keys(readKeyFile(f.keyFile).kek.versions)).toEqual(['2', '3']);
    const m = await stale.create({ externalId: 'late-writer', fields: { name: '迟到' } });
    const row = await f.db.db
      .selectFrom('subjects')
      .select('kek_version')
      .where('id', '=', m.id)
      .executeTakeFirstOrThrow();
    expect(Number(row.kek_version)).toBe(3);
    expect(await openSubjectFields(stale, f.db.db, subjects[0]!.id, ['mobile'])).toEqual({
      mobile: subjects[0]!.mobile,
    });
  });

  it('refuses to rotate a keyring that has no key file', async () => {
    const inMemory = createVault({
      db: f.db.db,
      dialect,
      keyring: keyringFromFile(generateKeyFile()),
      catalog: loadCatalog(),
      clock: f.clock,
      record: memoryRecorder().record,
    });
    const e = await rotateKeys(inMemory).catch((x: unknown) => x);
    expect(isAppError(e) && e.code).toBe('KEYS_NO_KEY_FILE');
  });
});
