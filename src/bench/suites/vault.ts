import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CompiledQuery } from 'kysely';
import { type Database, type DialectName, MAX_BIND_PARAMS, openScratchDatabase } from '../../db/index.js';
import { systemClock } from '../../lib/clock.js';
import { generateKeyFile, loadKeyring, writeKeyFile } from '../../lib/crypto/index.js';
import { createLedger } from '../../modules/ledger/index.js';
import { type CustomerRecord, customersCsvChunks, generateCustomers } from '../../modules/sim/index.js';
import { createVault, importSubjects, loadCatalog, type Vault } from '../../modules/vault/index.js';
import { type BenchContext, type BenchSuite, type Measurement, median } from '../types.js';

/**
 * The vault's two figures, each against a baseline measured in the same run on the same database:
 *
 * - import subjects/s: `importSubjects` over the sim generator's CSV (parse, validate and normalise
 *   every cell, a data key per subject wrapped under the KEK, every field sealed with AES-256-GCM,
 *   blind indexes, a record fingerprint; one subject row plus one blind-index row per searchable
 *   field (5 for these customers), one transaction per
 *   1,000 subjects) against a raw INSERT of the same customers' plaintext into one table with a
 *   column per field (1 row per subject, already parsed, same batches) — what an organisation does
 *   without Custodian, and what the 2022 incident exposed;
 * - blind-index lookup/s (`vault.lookup` by mobile, in a spelling that needs normalising) against a
 *   primary-key SELECT of the same customer in the raw table.
 *
 * Sizes: 100,000 subjects × scale.
 */
const BATCH = 1000;
const LOOKUPS = 2000;
const RAW_COLUMNS = ['external_id', 'name', 'mobile', 'email', 'company', 'id_number', 'address'] as const;

interface BenchDb {
  database: Database;
  destroy(): Promise<void>;
}

function openBenchDb(dialect: DialectName, postgresUrl: string | undefined): Promise<BenchDb> {
  return openScratchDatabase(dialect, { postgresUrl, prefix: 'bench_vault' });
}

function insertSql(dialect: DialectName, rows: number): string {
  const width = RAW_COLUMNS.length;
  const tuples: string[] = [];
  let p = 1;
  for (let r = 0; r < rows; r++) {
    const one: string[] = [];
    for (let c = 0; c < width; c++) one.push(dialect === 'sqlite' ? '?' : `$${p++}`);
    tuples.push(`(${one.join(',')})`);
  }
  return `insert into raw_subjects (${RAW_COLUMNS.join(', ')}) values ${tuples.join(',')}`;
}

/** The baseline: plaintext rows, one per subject, multi-row INSERTs, one transaction per batch. */
async function rawInsert(database: Database, records: readonly CustomerRecord[]): Promise<number> {
  const { db, dialect } = database;
  await db.schema.dropTable('raw_subjects').ifExists().execute();
  let t = db.schema
    .createTable('raw_subjects')
    .addColumn('external_id', 'text', (c) => c.primaryKey().notNull());
  for (const c of RAW_COLUMNS.slice(1)) t = t.addColumn(c, 'text');
  await t.execute();
  const perStatement = Math.floor(MAX_BIND_PARAMS / RAW_COLUMNS.length);
  const cache = new Map<number, string>();
  const start = process.hrtime.bigint();
  for (let b = 0; b < records.length; b += BATCH) {
    const batch = records.slice(b, b + BATCH);
    await db.transaction().execute(async (trx) => {
      for (let s = 0; s < batch.length; s += perStatement) {
        const part = batch.slice(s, s + perStatement);
        const params: unknown[] = [];
        for (const r of part)
          params.push(r.external_id, r.name, r.mobile, r.email, r.company, r.id_number, r.address);
        let text = cache.get(part.length);
        if (!text) {
          text = insertSql(dialect, part.length);
          cache.set(part.length, text);
        }
        await trx.executeQuery(CompiledQuery.raw(text, params));
      }
    });
  }
  return records.length / (Number(process.hrtime.bigint() - start) / 1e9);
}

async function vaultOver(database: Database, keyFile: string): Promise<Vault> {
  const keyring = loadKeyring(keyFile);
  // The real recorder: an import appends its subject.created entries, as in production.
  const ledger = createLedger({
    db: database.db,
    dialect: database.dialect,
    keyring,
    origin: 'bench.local/ledger',
    clock: systemClock,
  });
  return createVault({
    db: database.db,
    dialect: database.dialect,
    keyring,
    catalog: loadCatalog(),
    clock: systemClock,
    record: ledger.append,
  });
}

export const vaultSuite: BenchSuite = {
  name: 'vault',
  description: 'CSV import into the encrypted vault and blind-index lookup, against raw plaintext tables',
  async run(ctx: BenchContext): Promise<Measurement[]> {
    const count = Math.max(BATCH, Math.round(100_000 * ctx.scale));
    const seed = 'bench-vault';
    const records = [...generateCustomers({ seed, count })];
    const chunks = [...customersCsvChunks({ seed, count })];
    const keyDir = mkdtempSync(join(tmpdir(), 'custodian-bench-keys-'));
    const keyFile = join(keyDir, 'keys.json');
    writeKeyFile(keyFile, generateKeyFile());
    const out: Measurement[] = [];
    try {
      for (const dialect of ctx.dialects) {
        const imports: number[] = [];
        const raws: number[] = [];
        const lookups: number[] = [];
        const pkLookups: number[] = [];
        let imported = 0;
        let rejectedRows = new Set<number>();
        for (let run = 0; run < ctx.runs; run++) {
          const bench = await openBenchDb(dialect, ctx.postgresUrl);
          try {
            const { database } = bench;
            const vault = await vaultOver(database, keyFile);
            // Alternate the order so neither side always runs on a warmer cache or a fuller disk.
            const doImport = async () => {
              const start = process.hrtime.bigint();
              const r = await importSubjects(vault, chunks, { batchSize: BATCH, worker: true });
              if (r.aborted) throw new Error(`import aborted: ${r.aborted.code}`);
              imported = r.imported;
              rejectedRows = new Set(r.rejected.map((p) => p.row));
              imports.push(count / (Number(process.hrtime.bigint() - start) / 1e9));
            };
            const doRaw = async () => {
              raws.push(await rawInsert(database, records));
            };
            if (run % 2 === 0) {
              await doImport();
              await doRaw();
            } else {
              await doRaw();
              await doImport();
            }
            ctx.log(
              `vault ${dialect} run ${run + 1}: import ${imports.at(-1)!.toFixed(0)}/s, raw ${raws.at(-1)!.toFixed(0)}/s`,
            );

            // Lookups of customers that were imported (row i + 1 of the file is records[i]), spread
            // over the table, by a spelling that needs normalising.
            const picks: CustomerRecord[] = [];
            for (let i = 0; picks.length < LOOKUPS && i < records.length; i++) {
              const k = (i * 7919) % records.length;
              if (!rejectedRows.has(k + 1)) picks.push(records[k]!);
            }
            let start = process.hrtime.bigint();
            let found = 0;
            for (const r of picks) {
              const m = r.mobile;
              found += (await vault.lookup('mobile', `+86 ${m.slice(0, 3)} ${m.slice(3, 7)} ${m.slice(7)}`))
                .length;
            }
            lookups.push(picks.length / (Number(process.hrtime.bigint() - start) / 1e9));
            start = process.hrtime.bigint();
            let pkFound = 0;
            for (const r of picks) {
              const row = await database.db
                .selectFrom('raw_subjects')
                .select('external_id')
                .where('external_id', '=', r.external_id)
                .executeTakeFirst();
              if (row) pkFound++;
            }
            pkLookups.push(picks.length / (Number(process.hrtime.bigint() - start) / 1e9));
            if (found < picks.length || pkFound !== picks.length)
              throw new Error('lookups missed imported subjects');
          } finally {
            await bench.destroy();
          }
        }
        const importRate = median(imports);
        const rawRate = median(raws);
        out.push({
          name: `vault.import.${dialect}`,
          value: importRate,
          unit: 'subjects/s',
          better: 'higher',
          baseline: {
            name: `raw INSERT of the same plaintext, 1 row/subject, same batches (${dialect})`,
            value: rawRate,
          },
          goal: {
            text: '≥ 50,000 subjects/s and ≤ 3× the raw insert cost',
            met: importRate >= 50_000 && rawRate / importRate <= 3,
          },
          extra: {
            subjects: count,
            imported,
            costRatio: Number((rawRate / importRate).toFixed(2)),
            rowsPerSubject: 4,
          },
        });
        const lookupRate = median(lookups);
        const pkRate = median(pkLookups);
        out.push({
          name: `vault.lookup.${dialect}`,
          value: lookupRate,
          unit: 'ops/s',
          better: 'higher',
          baseline: { name: `primary-key SELECT in the raw table (${dialect})`, value: pkRate },
          goal: { text: '≤ 2× the cost of a primary-key lookup', met: pkRate / lookupRate <= 2 },
          extra: { lookups: LOOKUPS, costRatio: Number((pkRate / lookupRate).toFixed(2)) },
        });
      }
    } finally {
      rmSync(keyDir, { recursive: true, force: true });
    }
    return out;
  },
};
