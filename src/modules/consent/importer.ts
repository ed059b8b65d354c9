import type { AuditEvent } from '../../lib/audit.js';
import { type AppError, isAppError } from '../../lib/errors.js';
import type { IdSource } from '../../lib/ids.js';
import { consentError } from './consent.errors.js';
import { existingImportKeys, importKey, insertConsents } from './consent.repo.js';
import type { ConsentDeps, ImportResult, ImportRowResult } from './consent.service.js';
import type { ConsentsTable } from './consent.tables.js';
import { ImportRowSchema, LOOKUP_COLUMNS, parseCsv } from './importcsv.js';
import type { Notice } from './notice.js';
import { buildRow, givenEvent } from './rows.js';

export interface ImportContext {
  deps: Pick<ConsentDeps, 'db' | 'lookup' | 'knownSubjects' | 'record'>;
  ids: IdSource;
  now(): string;
  loadNotice(db: ConsentDeps['db'], ref: string): Promise<Notice>;
}

/**
 * Imports existing consents with their evidence from CSV (columns in importcsv.ts). Returns a
 * result per row and never throws halfway: bad rows are rejected with a code, rows already present
 * are reported as duplicates (so re-running an import is safe), and the rest are written in
 * batches, each in one transaction with its ledger entries.
 */
export async function importConsentsCsv(
  ctx: ImportContext,
  text: string,
  by: string | null,
): Promise<ImportResult> {
  const { deps, ids, now, loadNotice } = ctx;
  const importId = ids('imp');
  const file = parseCsv(text);
  const results: ImportRowResult[] = file.malformed.map((line) => ({
    line,
    status: 'rejected' as const,
    code: 'VALIDATION_FAILED',
  }));
  const hasId = file.header.includes('subject_id');
  const lookupCol = LOOKUP_COLUMNS.find((c) => file.header.includes(c));
  if (!hasId && !lookupCol)
    throw consentError('CONSENT_IMPORT_INVALID', { details: { missing: 'subject_id' } });
  const at = now();
  const notices = new Map<string, Notice | AppError>();
  type Pending = { line: number; row: ConsentsTable };
  const pending: Pending[] = [];
  const reject = (line: number, e: unknown, field?: string) =>
    results.push({
      line,
      status: 'rejected',
      code: isAppError(e) ? e.code : 'VALIDATION_FAILED',
      ...(field ? { field } : {}),
    });

  for (const raw of file.rows) {
    const parsed = ImportRowSchema.safeParse(raw.values);
    if (!parsed.success) {
      reject(raw.line, undefined, String(parsed.error.issues[0]?.path[0] ?? ''));
      continue;
    }
    const v = parsed.data;
    let subjectId = v.subject_id;
    if (!subjectId) {
      const col = LOOKUP_COLUMNS.find((c) => v[c] !== undefined);
      if (!col || !deps.lookup) {
        reject(raw.line, consentError('CONSENT_SUBJECT_NOT_FOUND'), col ?? 'subject_id');
        continue;
      }
      let found: readonly string[];
      try {
        found = await deps.lookup(col, v[col]!);
      } catch {
        // The vault rejects values it cannot normalise; the row is rejected, the value not echoed.
        reject(raw.line, undefined, col);
        continue;
      }
      if (found.length !== 1) {
        reject(
          raw.line,
          consentError(found.length === 0 ? 'CONSENT_SUBJECT_NOT_FOUND' : 'CONSENT_SUBJECT_AMBIGUOUS'),
          col,
        );
        continue;
      }
      subjectId = found[0]!;
    }
    let notice = notices.get(v.notice);
    if (!notice) {
      try {
        notice = await loadNotice(deps.db, v.notice);
      } catch (e) {
        notice = e as AppError;
      }
      notices.set(v.notice, notice);
    }
    if (!(notice as Notice).declarations) {
      reject(raw.line, notice, 'notice');
      continue;
    }
    try {
      const row = buildRow(
        notice as Notice,
        {
          subjectId,
          purpose: v.purpose,
          recipientId: v.recipient_id ?? null,
          fields: v.fields,
          noticeId: (notice as Notice).id,
          method: v.method,
          givenBy: v.given_by,
          givenAt: v.given_at,
          expiresAt: v.expires_at ?? null,
          withdrawnAt: v.withdrawn_at,
          separate: { sensitive: v.sensitive, thirdParty: v.third_party, crossBorder: v.cross_border },
          evidenceRef: v.evidence_ref ?? null,
        },
        { id: ids('cns'), now: at, by, source: 'import', importId },
      );
      pending.push({ line: raw.line, row });
    } catch (e) {
      reject(raw.line, e);
    }
  }

  if (deps.knownSubjects && pending.length) {
    const known = await deps.knownSubjects(deps.db, [...new Set(pending.map((p) => p.row.subject_id))]);
    for (let i = pending.length - 1; i >= 0; i--) {
      if (!known.has(pending[i]!.row.subject_id)) {
        reject(pending[i]!.line, consentError('CONSENT_SUBJECT_NOT_FOUND'), 'subject_id');
        pending.splice(i, 1);
      }
    }
  }

  const BATCH = 2000;
  for (let i = 0; i < pending.length; i += BATCH) {
    const batch = pending.slice(i, i + BATCH);
    try {
      await deps.db.transaction().execute(async (trx) => {
        const existing = await existingImportKeys(trx, [...new Set(batch.map((p) => p.row.subject_id))]);
        const fresh: Pending[] = [];
        for (const p of batch) {
          const k = importKey(
            p.row.subject_id,
            p.row.purpose,
            p.row.recipient_id,
            p.row.given_at,
            p.row.notice_id,
          );
          if (existing.has(k)) results.push({ line: p.line, status: 'duplicate' });
          else {
            existing.add(k);
            fresh.push(p);
          }
        }
        await insertConsents(
          trx,
          fresh.map((p) => p.row),
        );
        const events: AuditEvent[] = [];
        for (const p of fresh) {
          events.push({ ...givenEvent(p.row), attrs: { ...givenEvent(p.row).attrs, import: importId } });
          if (p.row.withdrawn_at)
            events.push({
              kind: 'consent.withdrawn',
              at,
              actor: by,
              subject: p.row.subject_id,
              purpose: p.row.purpose,
              attrs: {
                consent: p.row.id,
                recipient: p.row.recipient_id,
                withdrawn_at: p.row.withdrawn_at,
              },
            });
        }
        await deps.record(trx, events);
        for (const p of fresh) results.push({ line: p.line, status: 'imported', consentId: p.row.id });
      });
    } catch {
      for (const p of batch) {
        const idx = results.findIndex((r) => r.line === p.line);
        if (idx >= 0) results.splice(idx, 1);
        results.push({ line: p.line, status: 'rejected', code: 'INTERNAL' });
      }
    }
  }

  results.sort((a, b) => a.line - b.line);
  const count = (s: ImportRowResult['status']) => results.filter((r) => r.status === s).length;
  if (count('imported') > 0)
    await deps.db.transaction().execute(async (trx) => {
      await deps.record(trx, [
        {
          kind: 'consent.imported',
          at,
          actor: by,
          attrs: { import: importId, imported: count('imported'), rejected: count('rejected') },
        },
      ]);
    });
  return {
    importId,
    total: results.length,
    imported: count('imported'),
    duplicates: count('duplicate'),
    rejected: count('rejected'),
    rows: results,
  };
}
