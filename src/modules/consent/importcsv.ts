import { parse } from 'csv-parse/sync';
import { z } from 'zod';
import { FIELD_RE, ID_RE, NOTICE_REF_RE, PURPOSE_RE } from './notice.js';

/**
 * Parsing of a consent import file (RFC 4180 CSV with a header). Pure: no I/O, no database. A
 * malformed line becomes a rejected row; it never stops the file (batch operations return a result
 * per row instead of throwing halfway).
 *
 * Columns (header names, any order):
 *   subject_id                 the pseudonymous subject id, or instead one lookup column
 *   mobile | email | id_number (resolved through the vault's blind index; the value is not kept)
 *   purpose, recipient_id (empty: no recipient), fields (separated by ';' or '|' or spaces)
 *   notice                     a notice id, or key@version
 *   method                     web | app | phone | paper
 *   given_at, expires_at, withdrawn_at   ISO-8601 times (the last two may be empty)
 *   given_by                   subject | guardian (default subject)
 *   sensitive, third_party, cross_border  separate-consent flags: 1/0, true/false, yes/no, y/n
 *   evidence_ref               a reference to the evidence kept elsewhere (form id, recording id)
 */
export const LOOKUP_COLUMNS = ['mobile', 'email', 'id_number'] as const;
export const METHODS = ['web', 'app', 'phone', 'paper'] as const;
export const GIVEN_BY = ['subject', 'guardian'] as const;

export interface RawRow {
  /** 1-based line number in the file of the record's first line. */
  line: number;
  values: Record<string, string>;
}

export interface ParsedFile {
  header: string[];
  rows: RawRow[];
  /** Lines that could not be parsed as a record. */
  malformed: number[];
}

export function parseCsv(text: string): ParsedFile {
  const malformed: number[] = [];
  let header: string[] = [];
  const records = parse(text, {
    bom: true,
    columns: (h: string[]) => {
      header = h.map((c) => c.trim().toLowerCase());
      return header;
    },
    skip_empty_lines: true,
    trim: true,
    info: true,
    relax_column_count: false,
    skip_records_with_error: true,
    on_skip: (err) => {
      malformed.push(Number((err as { lines?: number } | undefined)?.lines ?? 0));
      return undefined;
    },
  }) as { record: Record<string, string>; info: { lines: number } }[];
  return {
    header,
    rows: records.map((r) => ({ line: r.info.lines, values: r.record })),
    malformed,
  };
}

const flag = z
  .string()
  .optional()
  .transform((v, ctx) => {
    const s = (v ?? '').trim().toLowerCase();
    if (s === '' || s === '0' || s === 'false' || s === 'no' || s === 'n') return false;
    if (s === '1' || s === 'true' || s === 'yes' || s === 'y') return true;
    ctx.addIssue({ code: 'custom', message: 'not a flag' });
    return z.NEVER;
  });

const emptyToUndefined = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);
const isoTime = z.iso.datetime({ offset: true });
const optionalTime = z.preprocess(emptyToUndefined, isoTime.optional());

export const ImportRowSchema = z.object({
  subject_id: z.preprocess(emptyToUndefined, z.string().regex(ID_RE).optional()),
  mobile: z.preprocess(emptyToUndefined, z.string().max(64).optional()),
  email: z.preprocess(emptyToUndefined, z.string().max(320).optional()),
  id_number: z.preprocess(emptyToUndefined, z.string().max(64).optional()),
  purpose: z.string().regex(PURPOSE_RE),
  recipient_id: z.preprocess(emptyToUndefined, z.string().regex(ID_RE).optional()),
  fields: z
    .string()
    .transform((s) => s.split(/[;|\s]+/).filter(Boolean))
    .pipe(z.array(z.string().regex(FIELD_RE)).min(1).max(200)),
  notice: z.string().regex(NOTICE_REF_RE),
  method: z.enum(METHODS),
  given_by: z.preprocess(emptyToUndefined, z.enum(GIVEN_BY).optional()),
  given_at: isoTime,
  expires_at: optionalTime,
  withdrawn_at: optionalTime,
  sensitive: flag,
  third_party: flag,
  cross_border: flag,
  evidence_ref: z.preprocess(emptyToUndefined, z.string().max(256).optional()),
});

export type ImportRow = z.output<typeof ImportRowSchema>;
