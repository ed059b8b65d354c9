const NEEDS_QUOTES = /[",\r\n]/;

/** One RFC 4180 field: quoted (with doubled quotes) only when it holds a comma, quote or newline. */
export function csvField(v: string): string {
  return NEEDS_QUOTES.test(v) ? `"${v.replaceAll('"', '""')}"` : v;
}

/** One RFC 4180 record, ending in CRLF. */
export function csvLine(fields: readonly string[]): string {
  let line = '';
  for (let i = 0; i < fields.length; i++) line += (i === 0 ? '' : ',') + csvField(fields[i]!);
  return `${line}\r\n`;
}
