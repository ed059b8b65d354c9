import { csvLine } from '../../lib/csv.js';

/**
 * The export file: one row per record, a `ref` column first (the recipient's pseudonym for the
 * subject, which deletion notices quote back), then the fields asked for. Canaries are rows like
 * any other, inserted at uniformly random positions so that neither their place nor their form
 * sets them apart.
 */
export type ExportFormat = 'csv' | 'json';

export interface ExportRow {
  ref: string;
  values: Readonly<Record<string, string>>;
}

/** Inserts each canary at a uniformly random position of the growing list. */
export function placeCanaries<T>(subjects: readonly T[], canaries: readonly T[], random: () => number): T[] {
  const out = [...subjects];
  for (const c of canaries) out.splice(Math.floor(random() * (out.length + 1)), 0, c);
  return out;
}

/** A cell a spreadsheet would read as a formula (or a DDE call): =, +, -, @, tab, carriage return. */
const FORMULA_START = /^[=+\-@\t\r]/;

/**
 * CSV injection (OWASP): a recipient opening the export in a spreadsheet must not run a formula
 * planted in a value. A cell starting with one of the trigger characters gets a leading single
 * quote, which spreadsheets show as text and drop from the displayed value. International phone
 * numbers ('+86…') are therefore written as "'+86…" in CSV; the JSON format is unchanged.
 */
export function spreadsheetSafe(v: string): string {
  return FORMULA_START.test(v) ? `'${v}` : v;
}

export function toCsv(fields: readonly string[], rows: readonly ExportRow[]): string {
  const parts: string[] = [csvLine(['ref', ...fields].map(spreadsheetSafe))];
  for (const r of rows)
    parts.push(csvLine([r.ref, ...fields.map((f) => r.values[f] ?? '')].map(spreadsheetSafe)));
  return parts.join('');
}

export interface ExportMeta {
  disclosure: string;
  recipient: string;
  purpose: string;
  fields: readonly string[];
  createdAt: string;
}

export function toJson(meta: ExportMeta, rows: readonly ExportRow[]): string {
  const records = rows.map((r) => {
    const o: Record<string, string> = { ref: r.ref };
    for (const f of meta.fields) o[f] = r.values[f] ?? '';
    return o;
  });
  return `${JSON.stringify({ ...meta, records })}\n`;
}

export function serialise(format: ExportFormat, meta: ExportMeta, rows: readonly ExportRow[]): string {
  return format === 'csv' ? toCsv(meta.fields, rows) : toJson(meta, rows);
}
