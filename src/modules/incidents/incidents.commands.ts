import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, table } from '../../lib/cli/index.js';
import { commonError } from '../../lib/errors.js';
import { formatLeft, GRADES, type Grade } from './grading.js';
import {
  ACTION_KINDS,
  type ActionKind,
  type IncidentDetail,
  type Incidents,
  SOURCE_KINDS,
  type SourceKind,
} from './incidents.service.js';
import { renderReport } from './report.js';

/**
 * `custodian incidents open|list|show|scope|grade|notify|act|report|close`. `--by` names the actor
 * (a member of the privacy team) on whose behalf the step is taken; the ledger names it.
 */
const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

export function formatIncident(d: IncidentDetail): string {
  const lines = [
    `incident ${d.id} (${d.status}): ${d.title}`,
    `  source ${d.source.kind}${d.source.ref ? ` ${d.source.ref}` : ''}; aware ${d.awareAt}${d.awareBy ? ` (${d.awareBy})` : ''}`,
    `  grade ${d.grade}; affected ${d.affected}${d.scope ? ` (scope v${d.scope.version}, ${d.scope.events} events, list-sha256 ${d.scope.listSha256.slice(0, 16)}…)` : ' (not scoped)'}`,
    `  individuals: ${d.individuals.decision}${d.individuals.reason ? ` — ${d.individuals.reason}` : ''}`,
  ];
  if (d.clocks.length)
    lines.push(
      table(
        d.clocks.map((c) => [c.name, c.dueAt, c.status, formatLeft(c.leftMs)]),
        ['clock', 'due', 'status', 'margin'],
      ),
    );
  for (const w of d.warnings) lines.push(`  WARNING: ${w.clock} ${w.status} (${formatLeft(w.leftMs)})`);
  return lines.join('\n');
}

export function registerIncidentsCommands(
  program: Command,
  ctx: CommandContext<{ incidents: Incidents }>,
): void {
  const cmd = program
    .command('incidents')
    .description('breach response: scope from the ledger, grade, clocks, notices');
  const by = (o: { by?: string }) => o.by ?? null;

  cmd
    .command('open')
    .description('open an incident (the clocks start when someone became aware)')
    .requiredOption('--title <text>', 'short title (no personal information)')
    .option('--source <kind>', `one of ${SOURCE_KINDS.join(', ')}`, 'manual')
    .option('--ref <id>', 'the alert, trace or complaint id')
    .option('--aware-at <time>', 'ISO-8601 time someone became aware (default: the alert time, else now)')
    .option('--aware-by <id>', 'who became aware')
    .option(
      '--critical-infrastructure',
      'the operator is critical information infrastructure (1-hour CAC clock)',
    )
    .option('--high-risk', 'high risk to individuals (GDPR 34)')
    .option('--by <actor>', 'actor opening it')
    .action(async (o: Record<string, string | boolean | undefined>, c: Command) => {
      const out = ctx.output(c);
      if (!SOURCE_KINDS.includes(o.source as SourceKind))
        throw commonError('VALIDATION_FAILED', {
          message: `--source must be one of ${SOURCE_KINDS.join(', ')}.`,
        });
      const app = await ctx.open(c);
      try {
        const d = await app.incidents.open(
          {
            title: String(o.title),
            source: o.source as SourceKind,
            sourceRef: o.ref as string | undefined,
            awareAt: o.awareAt as string | undefined,
            awareBy: o.awareBy as string | undefined,
            criticalInfrastructure: Boolean(o.criticalInfrastructure),
            highRisk: Boolean(o.highRisk),
          },
          (o.by as string | undefined) ?? null,
        );
        out.result(formatIncident(d), d);
      } finally {
        await app.close();
      }
    });

  cmd
    .command('list')
    .description('the register of incidents, notified or not (GDPR 33(5))')
    .option('--status <s>', 'open | closed')
    .option('--limit <n>', 'rows', '50')
    .action(async (o: { status?: 'open' | 'closed'; limit: string }, c: Command) => {
      const out = ctx.output(c);
      const app = await ctx.open(c);
      try {
        const r = await app.incidents.list({
          ...(o.status ? { status: o.status } : {}),
          limit: Number(o.limit),
        });
        out.result(
          table(
            r.incidents.map((i) => [i.id, i.status, i.grade, i.affected, i.awareAt, i.title]),
            ['id', 'status', 'grade', 'affected', 'aware', 'title'],
          ),
          r,
        );
      } finally {
        await app.close();
      }
    });

  cmd
    .command('show <id>')
    .description('an incident with its clocks (time left, warnings)')
    .action(async (id: string, _o: unknown, c: Command) => {
      const out = ctx.output(c);
      const app = await ctx.open(c);
      try {
        const d = await app.incidents.get(id);
        out.result(formatIncident(d), d);
      } finally {
        await app.close();
      }
    });

  cmd
    .command('scope <id>')
    .description(
      'scope (or re-scope) from the access events: actors and/or recipients in a window; signed list',
    )
    .option('--actors <ids>', 'actor ids, comma-separated')
    .option('--recipients <ids>', 'recipient ids, comma-separated')
    .option('--suspended', 'include every suspended account')
    .option('--from <time>', 'window start (ISO-8601)')
    .option('--until <time>', 'window end, exclusive (ISO-8601)')
    .option('--reason <text>', 'why the scope changes')
    .option('--list-out <file>', 'write the signed list (one line per customer) here')
    .option('--by <actor>', 'actor')
    .action(async (id: string, o: Record<string, string | boolean | undefined>, c: Command) => {
      const out = ctx.output(c);
      const app = await ctx.open(c);
      try {
        const s = await app.incidents.scope(
          id,
          {
            actors: list(o.actors as string | undefined),
            recipients: list(o.recipients as string | undefined),
            suspendedActors: Boolean(o.suspended),
            from: o.from as string | undefined,
            until: o.until as string | undefined,
          },
          by(o as { by?: string }),
          o.reason as string | undefined,
        );
        if (o.listOut) {
          const lines: string[] = [];
          let after: string | undefined;
          for (;;) {
            const page = await app.incidents.affected(id, {
              version: s.version,
              ...(after ? { after } : {}),
              limit: 50_000,
            });
            for (const a of page.subjects) lines.push(a.line);
            if (page.subjects.length < 50_000) break;
            after = page.subjects.at(-1)!.subject;
          }
          writeFileSync(String(o.listOut), lines.join(''), { mode: 0o600 });
        }
        out.result(
          [
            `scope v${s.version} (${s.change}): ${s.affected} customer(s), ${s.events} access event(s); +${s.added} −${s.removed}`,
            `  fields: ${
              Object.entries(s.fields)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') || '—'
            }`,
            `  views: ${
              Object.entries(s.views)
                .map(([k, v]) => `${k} ${v}`)
                .join(', ') || '—'
            }`,
            s.signedNote.trimEnd(),
          ].join('\n'),
          s,
        );
      } finally {
        await app.close();
      }
    });

  cmd
    .command('grade <id>')
    .description('raise the grade, mark critical infrastructure or high risk, record the end of handling')
    .option('--floor <grade>', `at least this grade: ${GRADES.join(', ')}`)
    .option('--critical-infrastructure', 'critical information infrastructure operator')
    .option('--high-risk', 'high risk to individuals')
    .option('--handled-at <time>', 'end of handling (starts the 30-day final-report clock)')
    .option('--by <actor>', 'actor')
    .action(async (id: string, o: Record<string, string | boolean | undefined>, c: Command) => {
      const out = ctx.output(c);
      if (o.floor && !GRADES.includes(o.floor as Grade))
        throw commonError('VALIDATION_FAILED', { message: `--floor must be one of ${GRADES.join(', ')}.` });
      const app = await ctx.open(c);
      try {
        const d = await app.incidents.grade(
          id,
          {
            floor: o.floor as Grade | undefined,
            ...(o.criticalInfrastructure ? { criticalInfrastructure: true } : {}),
            ...(o.highRisk ? { highRisk: true } : {}),
            handledAt: o.handledAt as string | undefined,
          },
          by(o as { by?: string }),
        );
        out.result(formatIncident(d), d);
      } finally {
        await app.close();
      }
    });

  cmd
    .command('notify <id>')
    .description(
      'draft a notice (--draft regulator|individuals|regulator_final), record a submission (--submit NOTICE), send to individuals (--send), or record why not (--not-notify REASON)',
    )
    .option('--draft <audience>', 'regulator | individuals | regulator_final')
    .option('--submit <notice>', 'the regulator notice that was submitted')
    .option('--send', "send the individuals' notice through the messaging gateway, in batches")
    .option('--batch <n>', 'customers per batch (max 1000)', '500')
    .option('--not-notify <reason>', 'record the decision not to notify the individuals and why')
    .option('--by <actor>', 'actor')
    .action(async (id: string, o: Record<string, string | boolean | undefined>, c: Command) => {
      const out = ctx.output(c);
      const chosen = ['draft', 'submit', 'send', 'notNotify'].filter((k) => o[k] !== undefined);
      if (chosen.length !== 1)
        throw commonError('VALIDATION_FAILED', {
          message: 'Give exactly one of --draft, --submit, --send, --not-notify.',
        });
      const app = await ctx.open(c);
      try {
        const who = by(o as { by?: string });
        if (o.draft) {
          const aud = String(o.draft);
          if (!['regulator', 'individuals', 'regulator_final'].includes(aud))
            throw commonError('VALIDATION_FAILED', {
              message: '--draft must be regulator, individuals or regulator_final.',
            });
          const n = await app.incidents.draft(id, aud as 'regulator', who);
          out.result(
            `notice ${n.id} (${aud}) drafted${n.draft.missing.length ? `; missing: ${n.draft.missing.join(', ')}` : '; complete'}\n${JSON.stringify(n.draft.pipl57, null, 2)}`,
            n,
          );
        } else if (o.submit) {
          const d = await app.incidents.submit(id, String(o.submit), who);
          out.result(formatIncident(d), d);
        } else if (o.send) {
          const r = await app.incidents.notifyIndividuals(id, who, { batchSize: Number(o.batch) });
          out.result(
            `notice ${r.notice}: ${r.sent} sent, ${r.failed} failed, ${r.no_contact} without a contact point, in ${r.batches} batch(es)`,
            r,
          );
        } else {
          const d = await app.incidents.notToNotify(id, String(o.notNotify), who);
          out.result(formatIncident(d), d);
        }
      } finally {
        await app.close();
      }
    });

  cmd
    .command('act <id>')
    .description(`take an action from the incident: ${ACTION_KINDS.join(', ')}`)
    .requiredOption('--kind <kind>', ACTION_KINDS.join(' | '))
    .requiredOption('--target <id>', 'actor or recipient id')
    .option('--note <text>', 'why')
    .option('--by <actor>', 'actor')
    .action(async (id: string, o: Record<string, string | undefined>, c: Command) => {
      const out = ctx.output(c);
      if (!ACTION_KINDS.includes(o.kind as ActionKind))
        throw commonError('VALIDATION_FAILED', {
          message: `--kind must be one of ${ACTION_KINDS.join(', ')}.`,
        });
      const app = await ctx.open(c);
      try {
        const r = await app.incidents.act(id, o.kind as ActionKind, String(o.target), o.by ?? null, o.note);
        out.result(`action ${r.id}: ${r.kind} ${r.target} → ${r.outcome}`, r);
      } finally {
        await app.close();
      }
    });

  cmd
    .command('report <id>')
    .description('the printable HTML report of the whole incident')
    .requiredOption('--out <file>', 'where to write the HTML')
    .action(async (id: string, o: { out: string }, c: Command) => {
      const out = ctx.output(c);
      const app = await ctx.open(c);
      try {
        writeFileSync(o.out, renderReport(await app.incidents.reportData(id)));
        out.result(`report written to ${o.out}`, { file: o.out });
      } finally {
        await app.close();
      }
    });

  cmd
    .command('close <id>')
    .description('close the incident (the individuals decision must be recorded)')
    .option('--summary <text>', 'closing summary')
    .option('--by <actor>', 'actor')
    .action(async (id: string, o: { summary?: string; by?: string }, c: Command) => {
      const out = ctx.output(c);
      const app = await ctx.open(c);
      try {
        const d = await app.incidents.close(id, o.by ?? null, o.summary);
        out.result(formatIncident(d), d);
      } finally {
        await app.close();
      }
    });
}
