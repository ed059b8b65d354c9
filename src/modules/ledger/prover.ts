import type { Kysely } from 'kysely';
import { ledgerError } from './ledger.errors.js';
import { inclusionRanges, leafHash } from './merkle.js';
import { loadWidestTile, readEntriesAt } from './prover.repo.js';
import { TreeReader } from './treereader.js';

/**
 * Entries with inclusion proofs for a given set of leaf indexes, against one tree size: what a
 * subject's history (rights portal) needs, thousands of entries at a time. Entries are read with
 * one query per 5,000 indexes; proofs come from the tiles through a tile cache shared by all of
 * them (the upper levels of the tree are common to every proof).
 */
export interface ProvenEntry {
  index: number;
  /** The entry's canonical bytes. */
  entry: Buffer;
  /** Leaf hash, hex: SHA-256(0x00 ‖ entry), as the tiles hold it. */
  leafHash: string;
  /** Sibling hashes, hex, nearest the leaf first (RFC 9162 §2.1.3). */
  proof: string[];
}

export interface LedgerProver {
  entriesWithProofs(indexes: readonly number[], size: number): Promise<ProvenEntry[]>;
  /** Root hash of the tree of `size` leaves, from the tiles. */
  rootAt(size: number): Promise<Buffer>;
  /** Leaf hashes of the entries at `indexes` (no proofs), by index; absent indexes are left out. */
  leafHashes(indexes: readonly number[]): Promise<Map<number, Buffer>>;
}

export function createLedgerProver(deps: { db: Kysely<any>; tileCacheSize?: number }): LedgerProver {
  const reader = new TreeReader(
    (level, idx) => loadWidestTile(deps.db, level, idx),
    deps.tileCacheSize ?? 4096,
  );
  return {
    async entriesWithProofs(indexes, size) {
      for (const i of indexes)
        if (!Number.isSafeInteger(i) || i < 0 || i >= size)
          throw ledgerError('LEDGER_INDEX_OUT_OF_RANGE', { details: { size } });
      const rows = await readEntriesAt(deps.db, indexes);
      const out: ProvenEntry[] = new Array(rows.length);
      for (let k = 0; k < rows.length; k++) {
        const r = rows[k]!;
        const hashes = await reader.rangeHashes([[r.idx, r.idx + 1], ...inclusionRanges(r.idx, size)]);
        const leaf = hashes[0]!;
        // The stored entry must hash to the leaf the tree holds; anything else is tampering.
        if (!leafHash(r.entry).equals(leaf))
          throw ledgerError('LEDGER_INCONSISTENT', {
            details: { reason: 'entry does not match leaf', index: r.idx },
          });
        out[k] = {
          index: r.idx,
          entry: r.entry,
          leafHash: leaf.toString('hex'),
          proof: hashes.slice(1).map((h) => h.toString('hex')),
        };
      }
      return out;
    },
    rootAt: (size) => reader.rootAt(size),
    async leafHashes(indexes) {
      const rows = await readEntriesAt(deps.db, indexes);
      return new Map(rows.map((r) => [r.idx, leafHash(r.entry)]));
    },
  };
}
