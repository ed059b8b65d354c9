import type { TraceResult } from './trace.service.js';

const fmtP = (log10P: number) =>
  log10P <= -300 ? '< 1e-300' : log10P < -3 ? `1e${log10P.toFixed(1)}` : (10 ** log10P).toPrecision(2);

/** The readable report: what was matched, who could have leaked it, how sure, and the evidence. */
export function formatTrace(r: TraceResult, options: { top?: number; evidence?: number } = {}): string {
  const s = r.summary;
  const lines: string[] = [];
  lines.push(`trace ${r.id} (${r.inputs.join(' + ')}${r.format ? `, ${r.format}` : ''}) at ${r.createdAt}`);
  lines.push(
    `  ${s.rows} row(s): ${s.matched} matched to ${s.subjects} subject(s) through the blind index, ${s.unmatched} unmatched` +
      `${s.nameOnly ? ` (${s.nameOnly} with a name only: names are not indexed)` : ''}, ${s.ambiguous} ambiguous; population ${s.population}`,
  );
  lines.push(
    `  leaked fields: ${s.fields.map((f) => `${f.field} (${f.views.join('/')})`).join(', ') || 'none recognised'}; window ${s.window.since ?? '…'} → ${s.window.until}`,
  );
  lines.push(`  ${s.candidates} candidate(s) read or received a matched subject`);
  lines.push('');
  const top = r.candidates.slice(0, options.top ?? 10);
  if (top.length === 0) lines.push('  no candidate: nobody recorded saw any matched subject in the window');
  for (const c of top) {
    const who = c.members.map((m) => `${m.kind} ${m.id}`).join(' + ');
    lines.push(
      `#${c.rank} ${who}${c.pairKind ? ` [${c.pairKind.replaceAll('_', ' ')}]` : ''}: LLR ${c.llr.toFixed(1)} nats, p ${fmtP(c.log10P)}`,
    );
    lines.push(
      `    could have leaked ${c.matched} of ${s.subjects} (saw ${c.seenTotal} in the window); ${c.exclusive.length} seen by no other candidate; ` +
        `${c.canaryHits.length} canary hit(s); noise ${(c.noise * 100).toFixed(0)}%; guilt ${c.guilt.toFixed(3)}`,
    );
    lines.push(`    ${c.verdict}`);
    for (const e of c.evidence.slice(0, options.evidence ?? 3)) {
      lines.push(
        `    · ${e.kind} ${e.ref} ${e.at} subject ${e.subject}${
          e.views
            ? ` ${Object.entries(e.views)
                .map(([f, v]) => `${f}=${v}`)
                .join(',')}`
            : ''
        }` +
          `${e.ledgerIndex !== undefined ? ` — ledger #${e.ledgerIndex}, proof of ${e.proof?.length ?? 0} hashes` : e.leafHash ? ` — leaf ${e.leafHash.slice(0, 16)}…` : ''}`,
      );
    }
  }
  if (r.checkpoint)
    lines.push('', `evidence proved against the signed checkpoint of size ${r.checkpoint.size}`);
  return lines.join('\n');
}
