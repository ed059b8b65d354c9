import { formatLeft } from './grading.js';
import type { IncidentDetail, ScopeSummary, TimelineItem } from './incidents.service.js';
import { type NoticeDraft, PIPL57_ITEMS } from './notices.js';

/**
 * The printable report of a whole incident for the regulator: facts, scope with its signed
 * statement, grade and clocks, notices, actions and the timeline with each entry's ledger leaf.
 * Self-contained HTML (no scripts, no outside resources) with print styles. Every value is escaped.
 */
export interface ReportData {
  incident: IncidentDetail;
  timeline: TimelineItem[];
  scopes: ScopeSummary[];
  regulatorDraft: NoticeDraft;
  individualsDraft: NoticeDraft;
  generatedAt: string;
}

const esc = (v: unknown): string =>
  String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');

const row = (cells: unknown[], th = false) =>
  `<tr>${cells.map((c) => (th ? `<th>${esc(c)}</th>` : `<td>${esc(c)}</td>`)).join('')}</tr>`;

const table = (head: string[], rows: unknown[][]) =>
  `<table><thead>${row(head, true)}</thead><tbody>${rows.map((r) => row(r)).join('')}</tbody></table>`;

const val = (v: string | string[]) => (Array.isArray(v) ? v.join('; ') : v);

const PIPL57_LABEL: Record<string, string> = {
  categories: 'Categories of personal information',
  cause: 'Cause',
  harm: 'Possible harm',
  measures: 'Remedial measures taken',
  advice: 'What the individual can do',
  contact: 'Contact',
};

export function renderReport(d: ReportData): string {
  const i = d.incident;
  const s = i.scope;
  const css = `
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;color:#111;margin:2rem auto;max-width:60rem;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.15rem;border-bottom:1px solid #999;margin-top:1.8rem;page-break-after:avoid}
table{border-collapse:collapse;width:100%;margin:.5rem 0}th,td{border:1px solid #bbb;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#eee}.meta td:first-child{width:16rem;font-weight:600}.warn{color:#a40000;font-weight:600}
pre{white-space:pre-wrap;word-break:break-all;font-size:12px;background:#f5f5f5;padding:.5rem;border:1px solid #ddd}
.missing{color:#a40000}
@media print{body{margin:0;max-width:none;font-size:11pt}h2{page-break-after:avoid}table,pre{page-break-inside:avoid}
@page{size:A4;margin:18mm 15mm}a{color:inherit;text-decoration:none}}`;
  const missing = d.regulatorDraft.missing;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Incident report ${esc(i.id)}</title><style>${css}</style></head>
<body>
<h1>Personal-information security incident report</h1>
<p>Incident ${esc(i.id)} — ${esc(i.title)} — generated ${esc(d.generatedAt)}</p>
<h2>1. Summary</h2>
<table class="meta"><tbody>
${row(['Status', i.status])}
${row(['Source', i.source.ref ? `${i.source.kind} ${i.source.ref}` : i.source.kind])}
${row(['Became aware', `${i.awareAt}${i.awareBy ? ` (${i.awareBy})` : ''}`])}
${row(['Opened', `${i.openedAt}${i.openedBy ? ` by ${i.openedBy}` : ''}`])}
${row(['Grade (CAC measures)', i.grade + (i.gradeFloor ? ` (raised to at least ${i.gradeFloor})` : '')])}
${row(['Critical information infrastructure', i.criticalInfrastructure ? 'yes' : 'no'])}
${row(['High risk to individuals (GDPR 34)', i.highRisk ? 'yes' : 'no'])}
${row(['Affected people (exact, from the ledger)', i.affected])}
${row(['Records (access events) in scope', s?.events ?? 0])}
${row(['Individuals', i.individuals.decision + (i.individuals.reason ? ` — reason: ${i.individuals.reason}` : '')])}
${row(['End of handling', i.handledAt ?? '—'])}
${row(['Closed', i.closedAt ?? '—'])}
</tbody></table>
${i.facts.description ? `<p>${esc(i.facts.description)}</p>` : ''}
<h2>2. Content required by PIPL art. 57 and GDPR art. 33(3)</h2>
${missing.length ? `<p class="missing">Still missing: ${esc(missing.join(', '))}</p>` : ''}
<table class="meta"><tbody>
${PIPL57_ITEMS.map((k) => row([PIPL57_LABEL[k], val(d.regulatorDraft.pipl57[k]) || '(missing)'])).join('\n')}
</tbody></table>
<h2>3. Legal clocks</h2>
${table(
  ['Clock', 'Started', 'Due', 'Status', 'Margin'],
  i.clocks.map((c) => [
    c.name,
    c.startedAt,
    c.dueAt,
    c.status + (c.stoppedReason ? ` (${c.stoppedReason})` : ''),
    formatLeft(c.leftMs),
  ]),
)}
${i.warnings.length ? `<p class="warn">Warnings: ${esc(i.warnings.map((w) => `${w.clock} ${w.status}`).join(', '))}</p>` : ''}
<h2>4. Scope</h2>
${
  s
    ? `<p>Version ${esc(s.version)} (${esc(s.change)}), taken ${esc(s.createdAt)} over ledger size ${esc(s.ledgerSize)}:
${esc(s.affected)} people, ${esc(s.events)} access events. Criteria: actors ${esc(s.criteria.resolvedActors.join(', ') || '—')};
recipients ${esc((s.criteria.recipients ?? []).join(', ') || '—')}; window ${esc(s.criteria.from ?? '—')} to ${esc(s.criteria.until ?? '—')}.</p>
${table(['Field', 'Events'], Object.entries(s.fields).sort())}
${table(['View', 'Events'], Object.entries(s.views).sort())}
<p>Signed statement (Ed25519, C2SP signed note, the ledger's key); the list of affected customers hashes to list-sha256:</p>
<pre>${esc(s.signedNote)}</pre>`
    : '<p>Not scoped yet.</p>'
}
${
  d.scopes.length > 1
    ? `<h3>Scope history</h3>${table(
        ['Version', 'Change', 'Affected', 'Added', 'Removed', 'Reason', 'At', 'By'],
        d.scopes.map((x) => [
          x.version,
          x.change,
          x.affected,
          x.added,
          x.removed,
          x.reason ?? '',
          x.createdAt,
          x.createdBy ?? '',
        ]),
      )}`
    : ''
}
<h2>5. Notices</h2>
${table(
  ['Notice', 'Audience', 'Status', 'Drafted', 'Submitted', 'Missing'],
  i.notices.map((n) => [n.id, n.audience, n.status, n.createdAt, n.submittedAt ?? '', n.missing.join(', ')]),
)}
<p>Deliveries to individuals: ${esc(
    Object.entries(i.deliveries)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ') || 'none',
  )}</p>
<h3>Text sent to each affected person</h3>
<pre>${esc(d.individualsDraft.text ?? '')}</pre>
<h2>6. Actions taken</h2>
${table(
  ['At', 'Action', 'Target', 'Outcome', 'By'],
  i.actions.map((a) => [a.at, a.kind, a.target, a.outcome, a.by ?? '']),
)}
<h2>7. Timeline</h2>
${table(
  ['#', 'At', 'Event', 'By', 'Detail', 'Ledger leaf'],
  d.timeline.map((t) => [
    t.seq,
    t.at,
    t.kind,
    t.actor ?? '',
    JSON.stringify(t.detail),
    t.leafHash.slice(0, 16),
  ]),
)}
</body></html>
`;
}
