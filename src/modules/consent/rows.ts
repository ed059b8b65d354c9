import type { z } from 'zod';
import type { AuditEvent } from '../../lib/audit.js';
import { consentError } from './consent.errors.js';
import type { GrantInputSchema } from './consent.service.js';
import type { ConsentsTable } from './consent.tables.js';
import { type Notice, noticeScope } from './notice.js';

/* A consent record's row and its ledger event, shared by single grants and the CSV import. */

export const iso = (t: Date | string) => (typeof t === 'string' ? new Date(t) : t).toISOString();

export function givenEvent(r: ConsentsTable): AuditEvent {
  return {
    kind: 'consent.given',
    at: r.recorded_at,
    actor: r.recorded_by,
    subject: r.subject_id,
    purpose: r.purpose,
    attrs: {
      consent: r.id,
      recipient: r.recipient_id,
      notice: r.notice_id,
      notice_sha256: r.notice_sha256,
      method: r.method,
      given_at: r.given_at,
      fields: JSON.parse(r.fields) as string[],
      sensitive: r.sep_sensitive === 1,
      third_party: r.sep_third_party === 1,
      cross_border: r.sep_cross_border === 1,
      source: r.source,
    },
  };
}

/**
 * Validates a consent against the notice shown and builds its row. Throws an AppError naming the
 * first mismatch (no PI in it).
 */
export function buildRow(
  notice: Notice,
  g: z.output<typeof GrantInputSchema> & { withdrawnAt?: string | undefined },
  ctx: { id: string; now: string; by: string | null; source: string; importId: string | null },
): ConsentsTable {
  const recipientId = g.recipientId ?? null;
  const sep = g.separate ?? {};
  const d = notice.declarations;
  if (recipientId !== null && d.thirdParty?.recipientId !== recipientId)
    throw consentError('CONSENT_RECIPIENT_NOT_IN_NOTICE', { details: { notice: notice.id } });
  if (sep.thirdParty && recipientId === null)
    throw consentError('CONSENT_RECIPIENT_NOT_IN_NOTICE', { details: { notice: notice.id } });
  const scope = noticeScope(notice, recipientId);
  if (!scope.purposes.has(g.purpose))
    throw consentError('CONSENT_PURPOSE_NOT_IN_NOTICE', { details: { notice: notice.id } });
  // Positions of the fields outside the notice, not their names (the caller's input).
  const outside = g.fields.flatMap((f, i) => (scope.fields.has(f) ? [] : [i]));
  if (outside.length)
    throw consentError('CONSENT_FIELDS_NOT_IN_NOTICE', {
      details: { notice: notice.id, positions: outside },
    });
  if (sep.crossBorder && (!d.crossBorder || recipientId === null))
    throw consentError('CONSENT_CROSS_BORDER_NOT_IN_NOTICE', { details: { notice: notice.id } });
  if (sep.sensitive && !d.sensitive)
    throw consentError('CONSENT_SENSITIVE_NOT_IN_NOTICE', { details: { notice: notice.id } });
  const givenAt = g.givenAt ? iso(g.givenAt) : ctx.now;
  const expiresAt = g.expiresAt ? iso(g.expiresAt) : null;
  const withdrawnAt = g.withdrawnAt ? iso(g.withdrawnAt) : null;
  if (givenAt > ctx.now || (expiresAt !== null && expiresAt <= givenAt))
    throw consentError('CONSENT_TIME_INVALID');
  if (withdrawnAt !== null && (withdrawnAt < givenAt || withdrawnAt > ctx.now))
    throw consentError('CONSENT_TIME_INVALID');
  const fields = [...new Set(g.fields)].sort();
  return {
    id: ctx.id,
    subject_id: g.subjectId,
    purpose: g.purpose,
    recipient_id: recipientId,
    fields: JSON.stringify(fields),
    notice_id: notice.id,
    notice_sha256: notice.sha256,
    method: g.method,
    given_by: g.givenBy ?? 'subject',
    given_at: givenAt,
    expires_at: expiresAt,
    withdrawn_at: withdrawnAt,
    withdrawal_method: withdrawnAt ? g.method : null,
    withdrawn_by: null,
    sep_sensitive: sep.sensitive ? 1 : 0,
    sep_third_party: sep.thirdParty ? 1 : 0,
    sep_cross_border: sep.crossBorder ? 1 : 0,
    evidence_ref: g.evidenceRef ?? null,
    source: ctx.source,
    import_id: ctx.importId,
    recorded_at: ctx.now,
    recorded_by: ctx.by,
  };
}

/** A matcher of check rows against the fields and flags asked for; caches parsed field lists. */
