import type { IncidentAffectedChunkRow } from './incidents.tables.js';

/**
 * The signed list of a scope's affected customers: one line per customer, in subject-id order,
 * `subject \t events \t first \t last \t fields \n` (fields sorted, comma-separated). The scope's
 * signed note carries the SHA-256 of the whole list; it is stored as chunks of CHUNK_LINES lines,
 * each chunk that slice of the list byte for byte (migration 0019), so reading the list back is
 * concatenating chunks, and hashing them in order gives the signed hash again.
 */

export interface AffectedLine {
  subject: string;
  events: number;
  firstAt: string;
  lastAt: string;
  /** Sorted field names read or disclosed. */
  fields: readonly string[];
}

export const CHUNK_LINES = 1000;

/** The canonical signed-list line of one affected customer. */
export function listLine(a: AffectedLine): string {
  return `${a.subject}\t${a.events}\t${a.firstAt}\t${a.lastAt}\t${a.fields.join(',')}\n`;
}

/** The lines of a chunk (or of any slice of the list). */
export function parseLines(text: string): AffectedLine[] {
  const out: AffectedLine[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) break;
    const [subject = '', events = '0', firstAt = '', lastAt = '', fields = ''] = text
      .slice(start, end)
      .split('\t');
    out.push({ subject, events: Number(events), firstAt, lastAt, fields: fields ? fields.split(',') : [] });
    start = end + 1;
  }
  return out;
}

/** The subject ids of a chunk, without parsing the rest of each line. */
export function chunkSubjects(text: string): string[] {
  const out: string[] = [];
  let start = 0;
  for (;;) {
    const end = text.indexOf('\n', start);
    if (end < 0) break;
    out.push(text.slice(start, text.indexOf('\t', start)));
    start = end + 1;
  }
  return out;
}

/** Chunk rows of a version's list; `lines` must be in subject-id order. */
export function toChunks(
  incidentId: string,
  version: number,
  lines: readonly AffectedLine[],
): IncidentAffectedChunkRow[] {
  const chunks: IncidentAffectedChunkRow[] = [];
  for (let i = 0, chunk = 0; i < lines.length; i += CHUNK_LINES, chunk++) {
    const slice = lines.slice(i, i + CHUNK_LINES);
    let text = '';
    for (const l of slice) text += listLine(l);
    chunks.push({
      incident_id: incidentId,
      version,
      chunk,
      first_subject: slice[0]!.subject,
      last_subject: slice[slice.length - 1]!.subject,
      subjects: slice.length,
      lines: text,
    });
  }
  return chunks;
}
