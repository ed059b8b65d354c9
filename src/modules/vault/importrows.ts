import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type CsvError, type Options as CsvOptions, type InfoRecord, parse } from 'csv-parse';
import type { Keyring } from '../../lib/crypto/index.js';
import { sealNewSubject } from '../../lib/crypto/index.js';
import type { Catalog, Field } from './catalog.js';
import { type CheckContext, Invalid } from './fieldtypes.js';
import { RecordSizeGuard, TOO_LARGE_SENTINEL } from './guard.js';
import { externalIdProblem } from './records.js';
import { vaultError } from './vault.errors.js';

/**
 * The import's producer half: bytes in, batches of checked and sealed rows out. It runs in a worker
 * thread when it can (import.worker.ts) so that parsing, validation and sealing overlap the
 * database writes of the previous batch, or in the caller's thread. Either way it is this code.
 *
 * Every good row is sealed as a new subject here; the consumer, which alone sees the database,
 * drops the sealed material of rows whose external id turns out to exist (they become updates).
 */
export interface RowProblem {
  /** 1-based data row (the header is row 0); rows the parser could not read count too. */
  row: number;
  /** Physical line where the row starts (the header is line 1). */
  line: number;
  /** The column at fault, or null for the whole row. */
  column: string | null;
  code: string;
}

export interface GoodRow {
  row: number;
  line: number;
  externalId: string;
  /** Aligned with the header's field columns; undefined where the cell is empty. */
  values: (string | undefined)[];
}

/** One good row sealed as a new subject (byte fields may arrive as Uint8Array from a worker). */
export interface SealedRow {
  id: string;
  kekVersion: number;
  wrapped: Uint8Array;
  /** Names of the fields with a value, aligned with ciphertexts and hashes. */
  fields: string[];
  ciphertexts: Uint8Array[];
  /** Blind-index hash, or null for a field that is not searchable. */
  hashes: (Uint8Array | null)[];
  fingerprint: Uint8Array;
}

export type ProducerEvent =
  | { t: 'header'; names: string[] }
  | { t: 'batch'; rows: GoodRow[]; sealed: SealedRow[]; rejected: RowProblem[]; bytes: number }
  | { t: 'end'; rows: number; rejected: RowProblem[]; bytes: number };

export interface ProducerParams {
  today: string;
  batchSize: number;
  maxCellBytes: number;
  maxRecordBytes: number;
}

export interface Sealer {
  readonly catalog: Catalog;
  /** The keyring to wrap under, looked up once per batch (it may change during a rotation). */
  keyring(): Keyring;
  hash(field: string, normalised: string): Buffer;
  id(): string;
  /**
   * Sealing threads (import.sealer.ts) that seal whole batches while this thread parses the next:
   * sealing is most of an import's CPU, and one thread doing both cannot keep the database busy.
   * Batches smaller than `minRows` are sealed here; `inFlight` batches at most are out at once.
   */
  pool?: { minRows: number; inFlight: number; seal(rows: Unsealed[]): Promise<SealedRow[]> };
}

/** Pseudo-field under whose blind-index key record fingerprints are made ('#' is not a field name). */
export const FINGERPRINT_FIELD = '#record';

// --- header -----------------------------------------------------------------------------------------

export interface Header {
  names: string[];
  externalIdColumn: number;
  /** Column index → catalog field (undefined for external_id). */
  fields: (Field | undefined)[];
  /** Field columns only, in header order. */
  fieldColumns: number[];
  /** Indexes into fieldColumns sorted by field name, for the canonical record. */
  sortedFieldSlots: number[];
  /** True when the file names every catalog field, so the file's row is the whole record. */
  complete: boolean;
}

export function readHeader(catalog: Catalog, cells: readonly string[]): Header {
  const names = cells.map((c) => c.trim());
  if (names.length === 0 || (names.length === 1 && names[0] === ''))
    throw vaultError('IMPORT_HEADER_MISSING');
  const seenNames = new Set<string>();
  const fields: (Field | undefined)[] = [];
  let externalIdColumn = -1;
  for (let i = 0; i < names.length; i++) {
    const name = names[i]!;
    // Column names are catalog vocabulary, not PI, but a header that is really a data row could
    // hold some: errors name positions only.
    if (seenNames.has(name))
      throw vaultError('IMPORT_HEADER_DUPLICATE_COLUMN', { details: { columnIndex: i } });
    seenNames.add(name);
    if (name === 'external_id') {
      externalIdColumn = i;
      fields.push(undefined);
      continue;
    }
    const f = catalog.field(name);
    if (!f) throw vaultError('IMPORT_HEADER_UNKNOWN_COLUMN', { details: { columnIndex: i } });
    fields.push(f);
  }
  if (externalIdColumn < 0) throw vaultError('IMPORT_HEADER_NO_EXTERNAL_ID');
  const fieldColumns = fields.flatMap((f, i) => (f ? [i] : []));
  const sortedFieldSlots = fieldColumns
    .map((_, slot) => slot)
    .sort((a, b) => (names[fieldColumns[a]!]! < names[fieldColumns[b]!]! ? -1 : 1));
  return {
    names,
    externalIdColumn,
    fields,
    fieldColumns,
    sortedFieldSlots,
    complete: catalog.names.every((n) => seenNames.has(n)),
  };
}

/** The same canonical form as records.canonicalRecord, built from a row without a Map. */
export function canonicalOf(h: Header, r: GoodRow): string {
  let out = '';
  for (const s of h.sortedFieldSlots) {
    const v = r.values[s];
    if (v !== undefined) out += `${h.names[h.fieldColumns[s]!]!}\u0000${v}\u0001`;
  }
  return out;
}

// --- rows ---------------------------------------------------------------------------------------------

interface Parsed {
  row: number;
  line: number;
  cells: string[];
}

function startLine(rec: Parsed): number {
  // csv-parse reports the line a record ends on; quoted newlines inside it move the start back.
  let inner = 0;
  for (const c of rec.cells) for (let j = c.indexOf('\n'); j >= 0; j = c.indexOf('\n', j + 1)) inner++;
  return rec.line - inner;
}

type Reject = (row: number, line: number, column: string | null, code: string) => void;

function checkRow(
  h: Header,
  rec: Parsed,
  ctx: CheckContext,
  maxCell: number,
  seen: Set<string>,
  reject: Reject,
): GoodRow | undefined {
  const { cells } = rec;
  const first = cells[0];
  if (cells.length === 1 && first !== undefined && first.startsWith(TOO_LARGE_SENTINEL)) {
    const col = Number.parseInt(first.slice(TOO_LARGE_SENTINEL.length), 10);
    reject(rec.row, startLine(rec), h.names[col] ?? null, 'IMPORT_CELL_TOO_LARGE');
    return undefined;
  }
  if (cells.length !== h.names.length) {
    reject(rec.row, startLine(rec), null, 'IMPORT_ROW_COLUMN_COUNT');
    return undefined;
  }
  let line = 0;
  let externalId = '';
  let present = 0;
  const values: (string | undefined)[] = new Array(h.fieldColumns.length);
  let slot = 0;
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    const field = h.fields[i];
    let code: string | undefined;
    // UTF-16 length × 3 bounds the UTF-8 length, so byteLength runs only on long cells.
    if (cell.length * 3 > maxCell && Buffer.byteLength(cell, 'utf8') > maxCell)
      code = 'IMPORT_CELL_TOO_LARGE';
    // The parser decodes invalid UTF-8 as U+FFFD; no real value contains it.
    else if (cell.includes('\uFFFD')) code = 'IMPORT_CELL_ENCODING';
    else if (!field) {
      externalId = cell.trim();
      code = externalId === '' ? 'IMPORT_EXTERNAL_ID_MISSING' : externalIdProblem(externalId);
    } else if (cell.trim() !== '') {
      const v = field.check(cell, ctx);
      if (v instanceof Invalid) code = v.code;
      else {
        values[slot] = v;
        present++;
      }
    }
    if (field) slot++;
    if (code) {
      if (line === 0) line = startLine(rec);
      reject(rec.row, line, h.names[i]!, code);
    }
  }
  if (line !== 0) return undefined;
  if (present === 0) {
    reject(rec.row, startLine(rec), null, 'VAULT_NO_FIELDS');
    return undefined;
  }
  if (seen.has(externalId)) {
    reject(rec.row, startLine(rec), 'external_id', 'IMPORT_DUPLICATE_IN_FILE');
    return undefined;
  }
  seen.add(externalId);
  return { row: rec.row, line: startLine(rec), externalId, values };
}

/** A good row reduced to what sealing needs: its field names and values, and its canonical form. */
export interface Unsealed {
  names: string[];
  values: string[];
  canonical: string;
}

function unsealedOf(h: Header, r: GoodRow): Unsealed {
  const names: string[] = [];
  const values: string[] = [];
  for (let slot = 0; slot < h.fieldColumns.length; slot++) {
    const v = r.values[slot];
    if (v !== undefined) {
      names.push(h.names[h.fieldColumns[slot]!]!);
      values.push(v);
    }
  }
  return { names, values, canonical: canonicalOf(h, r) };
}

/** Seals one row as a new subject: a data key, its fields, their blind indexes, the fingerprint. */
export function sealUnsealed(s: Sealer, ring: Keyring, u: Unsealed): SealedRow {
  const id = s.id();
  const { key, sealed } = sealNewSubject(ring, id, u.names, u.values);
  const hashes: (Buffer | null)[] = new Array(u.names.length);
  for (let i = 0; i < u.names.length; i++) {
    hashes[i] = s.catalog.field(u.names[i]!)?.searchable ? s.hash(u.names[i]!, u.values[i]!) : null;
  }
  return {
    id,
    kekVersion: key.kekVersion,
    wrapped: key.wrapped,
    fields: u.names,
    ciphertexts: sealed,
    hashes,
    fingerprint: s.hash(FINGERPRINT_FIELD, u.canonical),
  };
}

// --- the producer -------------------------------------------------------------------------------------

/**
 * Reads CSV bytes and yields the header, then batches of good rows (checked, normalised, sealed)
 * with the problems found since the previous event, then the end. A header problem is thrown.
 */
export async function* produce(
  input: Readable,
  p: ProducerParams,
  sealer: Sealer,
): AsyncGenerator<ProducerEvent> {
  let pending: RowProblem[] = [];
  const reject: Reject = (row, line, column, code) => {
    pending.push({ row, line, column, code });
  };
  // Rows are numbered in parse order by both callbacks, which csv-parse calls synchronously, so a
  // skipped (unparseable) record and the records around it keep their true positions.
  let counter = 0;
  let headerBroken = false;
  const guard = new RecordSizeGuard(p.maxRecordBytes);
  const csvOptions: CsvOptions<Parsed, string[]> = {
    bom: true,
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_error: true,
    on_record: (cells: string[], info: InfoRecord): Parsed => ({ row: counter++, line: info.lines, cells }),
    on_skip: (err: CsvError | undefined) => {
      const row = counter++;
      if (row === 0) headerBroken = true;
      else reject(row, typeof err?.lines === 'number' ? err.lines : 0, null, 'IMPORT_ROW_MALFORMED');
      return undefined;
    },
  };
  // The typings tie on_record to `columns`; records here are plain arrays turned into Parsed.
  const parser = parse(csvOptions as unknown as CsvOptions);
  const piping = pipeline(input, guard, parser).catch((e: unknown) => e);
  const ctx: CheckContext = { today: p.today };
  const seen = new Set<string>();
  let header: Header | undefined;
  let batch: GoodRow[] = [];
  // Batches being sealed, oldest first: events leave in input order whichever thread sealed them.
  const sealing: Promise<ProducerEvent>[] = [];
  const inFlight = sealer.pool ? Math.max(1, sealer.pool.inFlight) : 1;
  const startBatch = (): void => {
    const rows = batch;
    const rejected = pending;
    const bytes = guard.bytes;
    batch = [];
    pending = [];
    const unsealed = rows.map((r) => unsealedOf(header!, r));
    const pool = sealer.pool;
    let sealed: Promise<SealedRow[]>;
    if (pool && unsealed.length >= pool.minRows) sealed = pool.seal(unsealed);
    else {
      const ring = sealer.keyring();
      sealed = Promise.resolve(unsealed.map((u) => sealUnsealed(sealer, ring, u)));
    }
    const ev = sealed.then((s): ProducerEvent => ({ t: 'batch', rows, sealed: s, rejected, bytes }));
    // A failure surfaces when this batch's turn comes (below), not as an unhandled rejection now.
    ev.catch(() => {});
    sealing.push(ev);
  };
  try {
    for await (const rec of parser as AsyncIterable<Parsed>) {
      if (!header) {
        if (headerBroken || rec.row !== 0) throw vaultError('IMPORT_HEADER_MISSING');
        header = readHeader(sealer.catalog, rec.cells);
        yield { t: 'header', names: header.names };
        continue;
      }
      const good = checkRow(header, rec, ctx, p.maxCellBytes, seen, reject);
      if (good) batch.push(good);
      if (batch.length >= p.batchSize) {
        startBatch();
        if (sealing.length >= inFlight) yield await sealing.shift()!;
      }
    }
    const streamError = await piping;
    if (streamError) throw streamError;
    if (!header) throw vaultError('IMPORT_HEADER_MISSING');
    if (batch.length > 0) startBatch();
    while (sealing.length > 0) yield await sealing.shift()!;
    yield { t: 'end', rows: Math.max(0, counter - 1), rejected: pending, bytes: guard.bytes };
  } finally {
    parser.destroy();
    await piping;
  }
}
