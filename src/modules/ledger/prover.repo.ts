import type { Kysely, Transaction } from 'kysely';
import { toBuffer } from '../../db/index.js';

type Db = Kysely<any> | Transaction<any>;

/** Entries at the given indexes (any order, each once), in index order. */
export async function readEntriesAt(
  db: Db,
  indexes: readonly number[],
): Promise<{ idx: number; entry: Buffer }[]> {
  const out: { idx: number; entry: Buffer }[] = [];
  const sorted = [...new Set(indexes)].sort((a, b) => a - b);
  for (let i = 0; i < sorted.length; i += 5000) {
    const chunk = sorted.slice(i, i + 5000);
    const rows = await db
      .selectFrom('ledger_entries')
      .select(['idx', 'entry'])
      .where('idx', 'in', chunk)
      .orderBy('idx')
      .execute();
    for (const r of rows) out.push({ idx: Number(r.idx), entry: toBuffer(r.entry) });
  }
  return out;
}

/** The tile row of greatest width at (level, idx). */
export async function loadWidestTile(db: Db, level: number, idx: number): Promise<Buffer | undefined> {
  const r = await db
    .selectFrom('ledger_tiles')
    .select('hashes')
    .where('level', '=', level)
    .where('idx', '=', idx)
    .orderBy('width', 'desc')
    .limit(1)
    .executeTakeFirst();
  return r ? toBuffer(r.hashes) : undefined;
}
