import { parse } from 'csv-parse/sync';
import { actorsError } from './actors.errors.js';

/**
 * Bulk assignment files: a header row, then one assignment per row.
 *
 *   actor      the actor's id or name        (also accepted: actor_id, actor_name)
 *   subject    the subject id                (also accepted: subject_id)
 *   external_id the organisation's own key for the subject, resolved by the caller's resolver
 *   expires_at optional ISO-8601 time after which the assignment lapses
 *
 * Each row names exactly one of subject / external_id. Values are never echoed back in errors
 * (an external id may be a phone number); rows are referred to by line number.
 */
export interface AssignmentEntry {
  /** Line in the file (1-based; the header is line 1), or the index in a JSON batch. */
  line: number;
  actor: string;
  subjectId?: string;
  externalId?: string;
  expiresAt?: string;
}

const ACTOR_COLUMNS = ['actor', 'actor_id', 'actor_name'];
const SUBJECT_COLUMNS = ['subject', 'subject_id'];
const EXTERNAL_COLUMNS = ['external_id'];
const EXPIRY_COLUMNS = ['expires_at'];
export const MAX_CSV_BYTES = 64 * 1024 * 1024;

function pick(header: readonly string[], names: readonly string[]): string | undefined {
  return header.find((h) => names.includes(h));
}

export function parseAssignmentCsv(text: string): AssignmentEntry[] {
  if (Buffer.byteLength(text, 'utf8') > MAX_CSV_BYTES) {
    throw actorsError('ACTORS_CSV_INVALID', { details: { problem: 'file too large' } });
  }
  let records: { record: Record<string, string>; info: { lines: number } }[];
  try {
    records = parse(text, {
      bom: true,
      columns: (h: string[]) => h.map((c) => c.trim().toLowerCase()),
      info: true,
      skip_empty_lines: true,
      trim: true,
    }) as unknown as typeof records;
  } catch (e) {
    const line = (e as { lines?: number }).lines;
    throw actorsError('ACTORS_CSV_INVALID', {
      cause: e,
      details: { problem: 'malformed CSV', ...(line ? { line } : {}) },
    });
  }
  const first = records[0];
  if (!first) return [];
  const header = Object.keys(first.record);
  const actorCol = pick(header, ACTOR_COLUMNS);
  const subjectCol = pick(header, SUBJECT_COLUMNS);
  const externalCol = pick(header, EXTERNAL_COLUMNS);
  const expiryCol = pick(header, EXPIRY_COLUMNS);
  if (!actorCol || (!subjectCol && !externalCol)) {
    throw actorsError('ACTORS_CSV_INVALID', {
      details: { problem: 'missing columns', required: ['actor', 'subject or external_id'] },
    });
  }
  return records.map(({ record, info }) => {
    const e: AssignmentEntry = { line: info.lines, actor: record[actorCol] ?? '' };
    const subject = subjectCol ? record[subjectCol] : undefined;
    const external = externalCol ? record[externalCol] : undefined;
    if (subject) e.subjectId = subject;
    if (external) e.externalId = external;
    const expiry = expiryCol ? record[expiryCol] : undefined;
    if (expiry) e.expiresAt = expiry;
    return e;
  });
}
