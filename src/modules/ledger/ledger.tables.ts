/** Row shapes of the ledger tables (migration 0003_ledger), as the drivers return them. */
export interface LedgerEntryRow {
  idx: number;
  entry: Buffer;
}

export interface LedgerLeafIndexRow {
  bucket: number;
  epoch: number;
  data: Buffer;
}

export interface LedgerTileRow {
  level: number;
  idx: number;
  width: number;
  hashes: Buffer;
}

export interface LedgerCheckpointRow {
  size: number;
  root: Buffer;
  note: string;
  created_at: string;
}

export interface LedgerPendingRow {
  seq: number;
  leaf_hash: Buffer;
  entry: Buffer;
}

export interface LedgerStateRow {
  id: number;
  size: number;
  root: Buffer;
  updated_at: string;
}
