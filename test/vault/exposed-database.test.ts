/**
 * Threat (exposed-database-2022, SCENARIOS.md): an attacker copies the database of a deployment —
 * the SQLite file with its write-ahead log, checkpointed or not, or a pg_dump of the PostgreSQL
 * schema — as happened to a police database of about a billion records left reachable without a
 * password. The copy must hold no plaintext personal information: no stored mobile number (plain
 * or E.164), ID number, e-mail address or name appears in its bytes, including inside bytea
 * values; and none of the keys from the key file is in it, raw, hex or base64.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importSubjects } from '../../src/modules/vault/index.js';
import { describeEachDialect, sql } from '../helpers/db.js';
import { customers, customersCsvBytes, vaultFixture } from './helpers.js';
import { blankByteaHex, decodeByteaHex, type Needles, scan } from './scan.js';

const COUNT = Number(process.env.VAULT_EXPOSURE_COUNT ?? 100_000);
const SEED = 'exposed-database-2022';

function needlesFor(count: number, keys: Buffer[]): Needles {
  const needles: Needles = { mobiles: new Set(), ids: new Set(), emails: new Set(), names: new Set(), keys };
  for (const c of customers(SEED, count)) {
    needles.mobiles.add(c.mobile);
    needles.ids.add(c.id_number.toUpperCase());
    needles.emails.add(c.email.toLowerCase());
    needles.names.add(c.name);
  }
  return needles;
}

/** Findings with the bytes around them (synthetic data), so a failure says what matched where. */
function leaks(buf: Buffer, needles: Needles) {
  return scan(buf, needles).map((f) => ({
    ...f,
    around: JSON.stringify(buf.toString('latin1', Math.max(0, f.offset - 48), f.offset + 64)),
  }));
}

function chunks(bytes: Buffer, size: number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += size) out.push(bytes.subarray(i, i + size));
  return out;
}

describe('the byte scanner', () => {
  it('finds each kind of value raw, inside binary noise and as bytea hex (so the test below can fail)', () => {
    const c = customers(SEED, 3);
    const key = Buffer.alloc(32, 7);
    const needles = needlesFor(3, [key]);
    const noise = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 131 + 17) % 256));
    const plant = (...parts: (string | Buffer)[]) =>
      Buffer.concat(parts.flatMap((p) => [noise(97), typeof p === 'string' ? Buffer.from(p) : p]));
    expect(scan(plant(`+86${c[0]!.mobile}`), needles).map((x) => x.kind)).toEqual(['mobile']);
    expect(scan(plant(c[1]!.id_number), needles).map((x) => x.kind)).toEqual(['id_number']);
    expect(scan(plant(c[2]!.email.toUpperCase()), needles).map((x) => x.kind)).toEqual(['email']);
    expect(scan(plant(c[0]!.name), needles).map((x) => x.kind)).toEqual(['name']);
    expect(scan(plant(key.toString('base64')), needles).map((x) => x.kind)).toEqual(['key']);
    // A pg_dump line: a bytea value holding a mobile number, then a text column holding another.
    const dump = plant(`\\\\x${Buffer.from(c[1]!.mobile).toString('hex')}\t`, `\t${c[2]!.mobile}\t`);
    expect(scan(decodeByteaHex(dump), needles).map((x) => x.kind)).toEqual(['mobile']);
    const blanked = blankByteaHex(dump);
    expect(blanked.includes(Buffer.from(Buffer.from(c[1]!.mobile).toString('hex')))).toBe(false);
    expect(scan(blanked, needles).map((x) => x.kind)).toEqual(['mobile']);
    expect(scan(noise(100_000), needles)).toEqual([]);
  });
});

describeEachDialect('exposed database', (dialect) => {
  it(
    `a copy of the database holds none of ${COUNT} subjects' PI and none of the keys`,
    {
      timeout: 600_000,
    },
    async () => {
      const f = await vaultFixture(dialect, { poolSize: 2 });
      try {
        const r = await importSubjects(f.vault, chunks(customersCsvBytes(SEED, COUNT), 256 * 1024), {
          batchSize: 1000,
          worker: true,
        });
        expect(r.aborted).toBeUndefined();
        // The generator draws a few numbers from blocks libphonenumber does not list as mobile;
        // those rows are rejected. Everything else is stored.
        expect(r.imported).toBeGreaterThan(COUNT * 0.99);
        expect(r.imported + r.rejectedRows).toBe(COUNT);

        const keys = [
          ...f.keyring.kekVersions().map((v) => f.keyring.kek(v)),
          f.keyring.indexKey,
          Buffer.from(f.keyring.signingKey.export({ format: 'der', type: 'pkcs8' })),
        ];
        const needles = needlesFor(COUNT, keys);
        // Sanity: the sets hold what was imported (a typo above would make the scan vacuous).
        expect(needles.mobiles.size).toBe(COUNT);
        expect(needles.names.size).toBeGreaterThan(COUNT / 10);

        if (dialect === 'sqlite') {
          const file = f.db.file!;
          const copy = () =>
            Buffer.concat(
              [file, `${file}-wal`, `${file}-shm`].filter((p) => existsSync(p)).map((p) => readFileSync(p)),
            );
          const live = copy();
          expect(live.length).toBeGreaterThan(COUNT * 100);
          expect(leaks(live, needles)).toEqual([]);
          await sql`PRAGMA wal_checkpoint(TRUNCATE)`.execute(f.db.db);
          const checkpointed = readFileSync(file);
          expect(leaks(checkpointed, needles)).toEqual([]);
        } else {
          const out = join(f.dir, 'dump.sql');
          execFileSync('/usr/bin/pg_dump', ['--no-owner', '-n', f.db.schema!, '-f', out, f.db.url]);
          const dump = readFileSync(out);
          rmSync(out);
          expect(dump.includes('COPY')).toBe(true);
          expect(dump.length).toBeGreaterThan(COUNT * 100);
          expect(leaks(blankByteaHex(dump), needles)).toEqual([]);
          expect(leaks(decodeByteaHex(dump), needles)).toEqual([]);
        }
      } finally {
        await f.destroy();
      }
    },
  );
});
