import { traceError } from './trace.errors.js';

/**
 * Reading a leaked file: CSV (any delimiter), XLSX, JSON (an array of objects or arrays, or JSON
 * lines) or plain text, with or without a header, columns in any order. Each value is recognised by
 * its shape first (a mobile with spaces or +86, an 18-character ID number in any case, an e-mail, a
 * masked number such as 138****8000, a Chinese name, a company) and by its column header second, so
 * a file with no header, shuffled columns or a whole record in one cell still reads.
 *
 * What comes out is the leaked values by field; nothing is normalised to the vault's form here (the
 * vault's own field types do that when the blind index is looked up).
 */
export const LEAK_FIELDS = ['mobile', 'id_number', 'email', 'name', 'company'] as const;
export type LeakField = (typeof LEAK_FIELDS)[number];

export interface LeakValue {
  value: string;
  /** The leaked value is itself masked (138****8000): whoever leaked it saw at least a masked view. */
  masked: boolean;
}

export interface LeakRow {
  /** 1-based row (line) number in the file, for the report. */
  line: number;
  values: Partial<Record<LeakField, LeakValue>>;
}

export type LeakFormat = 'csv' | 'xlsx' | 'json' | 'text';

export interface ParsedLeak {
  format: LeakFormat;
  rows: LeakRow[];
  /** Rows in which nothing recognisable was found. */
  empty: number;
}

/** The most rows one trace reads (a bigger file is refused rather than silently cut). */
export const MAX_LEAK_ROWS = 5_000_000;

const HEADERS: readonly [LeakField, RegExp][] = [
  ['mobile', /mobile|phone|tel|cell|手机|电话|联系方式|号码/i],
  ['id_number', /id.?(no|num|card)|identity|身份证|证件/i],
  ['email', /e-?mail|邮箱|邮件/i],
  ['company', /company|employer|org|firm|公司|单位|企业/i],
  ['name', /name|姓名|客户|联系人|名字/i],
];

const MOBILE = /(?<![\d*])(?:(?:\+|00)?86[\s-]?)?1[3-9]\d(?:[\s-]?\d){8}(?!\d)/;
const MOBILE_MASKED = /(?<![\d*])1[3-9]\d[\s-]?\*{3,4}[\s-]?\d{4}(?!\d)/;
const ID = /(?<![\dA-Za-z])\d{6}\s?\d{8}\s?\d{3}[\dXx](?![\dA-Za-z])/;
const ID_MASKED = /(?<![\d*])\d{4,6}\*{6,12}\d{3}[\dXx*](?!\d)/;
const EMAIL = /[A-Za-z0-9._%+*-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}/;
const COMPANY = /公司|有限|集团|企业|工作室|事务所|中心|厂|店|\b(co|ltd|inc|llc|gmbh|corp)\b/i;
const CJK_NAME = /^[\u4e00-\u9fa5·*]{2,6}$/u;

export function header(cell: string): LeakField | undefined {
  const c = cell.trim();
  if (c.length === 0 || c.length > 40) return undefined;
  for (const [f, re] of HEADERS) if (re.test(c)) return f;
  return undefined;
}

/** The recognisable values in one cell (or a whole line of plain text). */
export function extract(text: string, hint?: LeakField): Partial<Record<LeakField, LeakValue>> {
  const out: Partial<Record<LeakField, LeakValue>> = {};
  let rest = text.replace(/\u3000/g, ' ');
  const take = (f: LeakField, re: RegExp, masked: boolean) => {
    const m = re.exec(rest);
    if (!m || out[f]) return;
    out[f] = { value: m[0].trim(), masked };
    rest = `${rest.slice(0, m.index)} ${rest.slice(m.index + m[0].length)}`;
  };
  take('email', EMAIL, false);
  if (out.email?.value.includes('*')) out.email.masked = true;
  take('id_number', ID, false);
  take('id_number', ID_MASKED, true);
  take('mobile', MOBILE, false);
  take('mobile', MOBILE_MASKED, true);
  for (const raw of rest.split(/[\s,;|，；、\t]+/)) {
    const tok = raw.trim().replace(/^["'“”]+|["'“”]+$/g, '');
    if (!tok) continue;
    if (!out.company && (COMPANY.test(tok) || hint === 'company') && tok.length >= 2) {
      out.company = { value: tok, masked: tok.includes('*') };
    } else if (!out.name && (CJK_NAME.test(tok) || hint === 'name') && !/\d/.test(tok)) {
      out.name = { value: tok, masked: tok.includes('*') };
    }
  }
  return out;
}

export function rowFromCells(
  cells: readonly string[],
  headers: readonly (LeakField | undefined)[],
): LeakRow['values'] {
  const values: LeakRow['values'] = {};
  for (let i = 0; i < cells.length; i++) {
    const cell = cells[i]!;
    if (!cell.trim()) continue;
    const found = extract(cell, headers[i]);
    for (const f of LEAK_FIELDS) if (found[f] && !values[f]) values[f] = found[f];
  }
  return values;
}

export function looksLikeHeader(cells: readonly string[]): boolean {
  const named = cells.filter((c) => header(c) !== undefined).length;
  const data = cells.some((c) => {
    const v = extract(c);
    return Boolean(v.mobile || v.id_number || v.email);
  });
  return named > 0 && !data;
}

function fromTable(table: readonly (readonly string[])[], format: LeakFormat, firstLine = 1): ParsedLeak {
  let headers: (LeakField | undefined)[] = [];
  let start = 0;
  if (table.length > 0 && looksLikeHeader(table[0]!)) {
    headers = table[0]!.map(header);
    start = 1;
  }
  const rows: LeakRow[] = [];
  let empty = 0;
  for (let r = start; r < table.length; r++) {
    const values = rowFromCells(table[r]!, headers);
    if (Object.keys(values).length === 0) empty++;
    else rows.push({ line: r + firstLine, values });
  }
  return { format, rows, empty };
}

/** RFC 4180 CSV with a chosen delimiter: quotes, doubled quotes, newlines inside quotes. */
export function parseDelimited(text: string, delimiter: string): string[][] {
  const out: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"') {
        if (text[i + 1] === '"') {
          cell += '"';
          i++;
        } else quoted = false;
      } else cell += ch;
    } else if (ch === '"' && cell.length === 0) quoted = true;
    else if (ch === delimiter) {
      row.push(cell);
      cell = '';
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++;
      row.push(cell);
      cell = '';
      if (row.length > 1 || row[0] !== '') out.push(row);
      row = [];
    } else if (cell.length === 0) {
      // An unquoted cell: up to the next delimiter or line end in one slice, not char by char.
      let j = i + 1;
      while (j < text.length) {
        const c = text[j];
        if (c === delimiter || c === '\n' || c === '\r') break;
        j++;
      }
      cell = text.slice(i, j);
      i = j - 1;
    } else cell += ch;
  }
  row.push(cell);
  if (row.length > 1 || row[0] !== '') out.push(row);
  return out;
}

/** The delimiter that splits the first lines into the same number (> 1) of cells, if any. */
function sniffDelimiter(text: string): string | undefined {
  // The first lines only: splitting the whole of a large file to look at twenty lines costs more
  // than the sniffing itself.
  const lines = text
    .slice(0, 256 * 1024)
    .split(/\r?\n/)
    .filter((l) => l.trim())
    .slice(0, 20);
  if (lines.length === 0) return undefined;
  let best: { d: string; score: number } | undefined;
  for (const d of [',', '\t', ';', '|', '，']) {
    const counts = lines.map((l) => l.split(d).length - 1);
    const first = counts[0]!;
    if (first === 0) continue;
    const same = counts.filter((c) => c === first).length / counts.length;
    if (same < 0.8) continue;
    const score = same * 10 + first;
    if (!best || score > best.score) best = { d, score };
  }
  return best?.d;
}

function cellText(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isInteger(v) ? v.toFixed(0) : String(v);
  if (typeof v === 'boolean') return String(v);
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'object') {
    const o = v as { richText?: { text: string }[]; text?: unknown; result?: unknown };
    if (Array.isArray(o.richText)) return o.richText.map((p) => p.text).join('');
    if (o.text !== undefined) return cellText(o.text);
    if (o.result !== undefined) return cellText(o.result);
  }
  return '';
}

async function parseXlsx(bytes: Buffer): Promise<ParsedLeak> {
  // Loaded on first use: the matching threads parse text only and start faster without it.
  const { default: ExcelJS } = await import('exceljs');
  const wb = new ExcelJS.Workbook();
  try {
    await wb.xlsx.load(bytes as unknown as ArrayBuffer);
  } catch (e) {
    throw traceError('TRACE_FILE_UNREADABLE', { cause: e, details: { format: 'xlsx' } });
  }
  const table: string[][] = [];
  for (const ws of wb.worksheets) {
    ws.eachRow({ includeEmpty: false }, (row) => {
      const values = Array.isArray(row.values) ? row.values.slice(1) : [];
      table.push(values.map(cellText));
    });
    if (table.length > MAX_LEAK_ROWS) break;
  }
  return fromTable(table, 'xlsx');
}

function parseJson(text: string): ParsedLeak | undefined {
  const t = text.trim();
  let doc: unknown;
  try {
    doc = JSON.parse(t);
  } catch {
    // JSON lines: one value per line.
    const lines = t.split(/\r?\n/).filter((l) => l.trim());
    try {
      doc = lines.map((l) => JSON.parse(l) as unknown);
    } catch {
      return undefined;
    }
  }
  if (doc && typeof doc === 'object' && !Array.isArray(doc)) {
    const arr = Object.values(doc).find((v) => Array.isArray(v));
    doc = arr ?? [doc];
  }
  if (!Array.isArray(doc)) return undefined;
  const rows: LeakRow[] = [];
  let empty = 0;
  doc.forEach((item, i) => {
    let values: LeakRow['values'];
    if (Array.isArray(item)) values = rowFromCells(item.map(cellText), []);
    else if (item && typeof item === 'object') {
      const entries = Object.entries(item as Record<string, unknown>);
      values = rowFromCells(
        entries.map(([, v]) => cellText(v)),
        entries.map(([k]) => header(k)),
      );
    } else values = rowFromCells([cellText(item)], []);
    if (Object.keys(values).length === 0) empty++;
    else rows.push({ line: i + 1, values });
  });
  return { format: 'json', rows, empty };
}

/** Reads a leaked file in any of the supported formats (detected from its bytes, not its name). */
export async function parseLeakFile(bytes: Buffer): Promise<ParsedLeak> {
  if (bytes.length === 0) throw traceError('TRACE_FILE_EMPTY');
  let parsed: ParsedLeak;
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) {
    parsed = await parseXlsx(bytes);
  } else {
    let text = bytes.toString('utf8');
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    const first = text.trimStart()[0];
    const json = first === '[' || first === '{' ? parseJson(text) : undefined;
    if (json) parsed = json;
    else {
      const d = sniffDelimiter(text);
      if (d) parsed = fromTable(parseDelimited(text, d), 'csv');
      else {
        const lines = text.split(/\r?\n/);
        const table = lines.map((l) => [l]);
        parsed = fromTable(table, 'text');
      }
    }
  }
  if (parsed.rows.length > MAX_LEAK_ROWS)
    throw traceError('TRACE_FILE_TOO_LARGE', { details: { maxRows: MAX_LEAK_ROWS } });
  if (parsed.rows.length === 0) throw traceError('TRACE_FILE_EMPTY');
  return parsed;
}

/**
 * A delimited or plain-text file cut into pieces that parse independently (each ends at a record
 * end, as `parseDelimited` reads records: a line end outside quotes), for parsing in worker threads.
 * `headers` come from the first record, decided here once. Undefined for XLSX and JSON (parsed whole).
 */
export interface LeakPlan {
  format: 'csv' | 'text';
  delimiter: string | undefined;
  headers: (LeakField | undefined)[];
  /** The first piece starts with the header record, which is not a row. */
  skipHeader: boolean;
  pieces: string[];
}

export function planLeakFile(bytes: Buffer, pieceChars = 256 * 1024): LeakPlan | undefined {
  if (bytes.length === 0) throw traceError('TRACE_FILE_EMPTY');
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return undefined;
  let text = bytes.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
  const first = text.trimStart()[0];
  if (first === '[' || first === '{') return undefined;
  const delimiter = sniffDelimiter(text);
  const cuts =
    delimiter && text.includes('"') ? recordCuts(text, delimiter, pieceChars) : lineCuts(text, pieceChars);
  const pieces: string[] = [];
  let at = 0;
  for (const c of cuts) {
    pieces.push(text.slice(at, c));
    at = c;
  }
  if (at < text.length || pieces.length === 0) pieces.push(text.slice(at));
  let head: string[] | undefined;
  if (delimiter) head = parseDelimited(pieces[0]!, delimiter)[0];
  else {
    const nl = text.search(/\r?\n/);
    head = [nl < 0 ? text : text.slice(0, nl)];
  }
  const skipHeader = head !== undefined && looksLikeHeader(head);
  return {
    format: delimiter ? 'csv' : 'text',
    delimiter,
    headers: skipHeader ? head!.map(header) : [],
    skipHeader,
    pieces,
  };
}

/** Offsets just past a line feed, about every `step` characters (no quotes: every line is a record). */
function lineCuts(text: string, step: number): number[] {
  const cuts: number[] = [];
  let at = step;
  while (at < text.length) {
    const nl = text.indexOf('\n', at);
    if (nl < 0 || nl + 1 >= text.length) break;
    cuts.push(nl + 1);
    at = nl + 1 + step;
  }
  return cuts;
}

/** The same, for text with quotes: a record end outside quotes, tracked exactly as parseDelimited does. */
function recordCuts(text: string, delimiter: string, step: number): number[] {
  const cuts: number[] = [];
  const d = delimiter.charCodeAt(0);
  let next = step;
  let quoted = false;
  let empty = true;
  for (let i = 0; i < text.length; i++) {
    const ch = text.charCodeAt(i);
    if (quoted) {
      if (ch === 34) {
        if (text.charCodeAt(i + 1) === 34) {
          empty = false;
          i++;
        } else quoted = false;
      } else empty = false;
    } else if (ch === 34 && empty) quoted = true;
    else if (ch === d) empty = true;
    else if (ch === 10 || ch === 13) {
      if (ch === 13 && text.charCodeAt(i + 1) === 10) i++;
      empty = true;
      if (i + 1 >= next && i + 1 < text.length) {
        cuts.push(i + 1);
        next = i + 1 + step;
      }
    } else empty = false;
  }
  return cuts;
}

/**
 * One piece of a planned file, parsed: its rows' values (records with nothing recognisable are not
 * rows). Parsing every piece and concatenating gives the rows `parseLeakFile` gives, in order.
 */
export function parsePiece(
  piece: string,
  plan: Pick<LeakPlan, 'format' | 'delimiter' | 'headers'>,
  skipFirst: boolean,
  last: boolean,
): LeakRow['values'][] {
  let table: string[][];
  if (plan.format === 'csv') table = parseDelimited(piece, plan.delimiter!);
  else {
    const lines = piece.split(/\r?\n/);
    // A piece ends with a line feed; the empty string after it is the next piece's first line.
    if (!last && lines.at(-1) === '') lines.pop();
    table = lines.map((l) => [l]);
  }
  const out: LeakRow['values'][] = [];
  for (let r = skipFirst ? 1 : 0; r < table.length; r++) {
    const values = rowFromCells(table[r]!, plan.headers);
    if (Object.keys(values).length > 0) out.push(values);
  }
  return out;
}
