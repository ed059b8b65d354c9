import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, EXIT, table } from '../../lib/cli/index.js';
import { commonError } from '../../lib/errors.js';
import {
  type HistoryBundle,
  type HistoryPage,
  PAGE_FORMAT,
  verifyHistory,
  verifyHistoryPage,
  verifyHistoryWalk,
} from './completeness.js';
import { daysLeft } from './deadlines.js';
import type { Complaint, Rights, RightsRequest } from './rights.service.js';

/**
 * `custodian requests list|show|due|assign|pause|resume|extend|refuse|complete`,
 * `custodian complaints list|show|respond|escalate|investigate`, `custodian ledger commit-subjects`
 * and `custodian ledger verify-subject FILE` (the last one needs no database: only the file).
 * `--actor` names the privacy officer acting (recorded in the ledger).
 */
function requestRow(r: RightsRequest, now: Date): (string | number)[] {
  return [
    r.id,
    r.subjectId,
    r.kind,
    r.requester,
    r.status,
    r.assignee ?? '-',
    r.dueAt,
    r.closedAt
      ? r.late
        ? 'late'
        : 'on time'
      : r.status === 'waiting_subject'
        ? 'paused'
        : `${daysLeft(new Date(r.dueAt), now)}d`,
  ];
}
const REQUEST_HEADER = ['id', 'subject', 'kind', 'requester', 'status', 'assignee', 'due', 'left'];

function complaintRow(c: Complaint): (string | number)[] {
  return [c.id, c.subjectId, c.status, c.filedBy, c.receivedAt, c.dueAt, c.closedAt ?? '-'];
}
const COMPLAINT_HEADER = ['id', 'subject', 'status', 'filed by', 'received', 'due', 'closed'];

function requestDetail(r: RightsRequest): string {
  const lines = [
    `${r.id}  ${r.kind} for ${r.subjectId} (${r.requester}${r.evidenceRef ? `, evidence ${r.evidenceRef}` : ''})`,
    `status ${r.status}, received ${r.receivedAt}, due ${r.dueAt}${r.extensions ? ' (extended)' : ''}${r.late ? ', answered late' : ''}`,
  ];
  if (r.assignee) lines.push(`assigned to ${r.assignee}`);
  if (r.refusalReason) lines.push(`refused: ${r.refusalReason}`, `remedies: ${r.outcome?.remedies ?? ''}`);
  for (const x of r.recipients)
    lines.push(`recipient ${x.recipientId}: ${x.status}${x.confirmedAt ? ` ${x.confirmedAt}` : ''}`);
  return lines.join('\n');
}

export function registerRightsCommands(program: Command, ctx: CommandContext<{ rights: Rights }>): void {
  const withRights = async <T>(cmd: Command, fn: (rights: Rights) => Promise<T>): Promise<T> => {
    const app = await ctx.open(cmd);
    try {
      return await fn(app.rights);
    } finally {
      await app.close();
    }
  };
  const actorOf = (o: { actor?: string }) => {
    if (!o.actor)
      throw commonError('VALIDATION_FAILED', { message: 'Give --actor (the privacy officer acting).' });
    return o.actor;
  };

  const req = program.command('requests').description('rights requests (PIPL arts. 44–50, GDPR arts. 12–22)');
  req
    .command('list')
    .description('requests, soonest due first')
    .option('--status <list>', 'comma-separated states')
    .option('--subject <id>', 'one subject')
    .option('--limit <n>', 'most rows', '100')
    .action(async (o: { status?: string; subject?: string; limit: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const rs = await rights.requests.list({
          ...(o.status ? { status: o.status.split(',') } : {}),
          ...(o.subject ? { subjectId: o.subject } : {}),
          limit: Number(o.limit),
        });
        out.result(
          table(
            rs.map((r) => requestRow(r, rights.now())),
            REQUEST_HEADER,
          ),
          { requests: rs },
        );
      });
    });
  req
    .command('due')
    .description(
      'the daily list: open requests due within --days (default 3), and those waiting for the subject',
    )
    .option('--days <n>', 'horizon in days', '3')
    .action(async (o: { days: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const now = rights.now();
        const r = await rights.requests.due(new Date(now.getTime() + Number(o.days) * 86_400_000));
        out.result(
          `${r.due.length} due within ${o.days} day(s)\n${table(
            r.due.map((x) => requestRow(x, now)),
            REQUEST_HEADER,
          )}\n` +
            `${r.waiting.length} waiting for the subject (clock stopped)\n${table(
              r.waiting.map((x) => requestRow(x, now)),
              REQUEST_HEADER,
            )}`,
          r,
        );
      });
    });
  req
    .command('show <id>')
    .description('one request')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const r = await rights.requests.get(id);
        out.result(requestDetail(r), { request: r });
      });
    });
  const change = (
    name: string,
    description: string,
    opts: [string, string][],
    run: (
      rights: Rights,
      id: string,
      o: Record<string, string | boolean | undefined>,
      by: string,
    ) => Promise<RightsRequest>,
  ) => {
    const c = req
      .command(`${name} <id>`)
      .description(description)
      .option('--actor <id>', 'privacy officer acting');
    for (const [flag, d] of opts) c.option(flag, d);
    c.action(async (id: string, o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const r = await run(rights, id, o, actorOf(o));
        out.result(requestDetail(r), { request: r });
      });
    });
  };
  change('assign', 'assign to a handler', [['--to <actor>', 'assignee (default: --actor)']], (r, id, o, by) =>
    r.requests.assign(id, String(o.to ?? by), by),
  );
  change(
    'pause',
    'waiting for the subject: the clock stops',
    [['--reason <text>', 'what is awaited']],
    (r, id, o, by) => r.requests.pause(id, String(o.reason ?? ''), by),
  );
  change('resume', 'the subject answered: the clock runs again', [], (r, id, _o, by) =>
    r.requests.resume(id, by),
  );
  change(
    'extend',
    'extend once where the rule allows (GDPR: two months), with the reason',
    [['--reason <text>', 'why']],
    (r, id, o, by) => r.requests.extend(id, String(o.reason ?? ''), by),
  );
  change(
    'refuse',
    'refuse with reasons; the remedies are shown to the subject (PIPL art. 50)',
    [
      ['--reason <text>', 'the reasons'],
      ['--remedies <text>', 'remedies (default: the regulator and the courts)'],
    ],
    (r, id, o, by) => r.requests.refuse(id, String(o.reason ?? ''), by, o.remedies as string | undefined),
  );
  change(
    'complete',
    'answer the request; corrections and deletions are passed on to every recipient',
    [
      ['--summary <text>', 'what was done'],
      ['--erase', 'for a deletion: crypto-shred the record'],
    ],
    (r, id, o, by) =>
      r.requests.complete(id, by, {
        ...(o.summary ? { summary: String(o.summary) } : {}),
        ...(o.erase ? { erase: true } : {}),
      }),
  );

  const cmp = program
    .command('complaints')
    .description('complaints: closed only by the complainant, or escalated after the deadline');
  cmp
    .command('list')
    .option('--status <list>', 'comma-separated states')
    .action(async (o: { status?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const cs = await rights.complaints.list(o.status ? { status: o.status.split(',') } : {});
        out.result(table(cs.map(complaintRow), COMPLAINT_HEADER), { complaints: cs });
      });
    });
  cmp.command('show <id>').action(async (id: string, _o: unknown, cmd: Command) => {
    const out = ctx.output(cmd);
    await withRights(cmd, async (rights) => {
      const c = await rights.complaints.get(id);
      out.result(
        [
          `${c.id} (${c.status}) for ${c.subjectId}, received ${c.receivedAt}, due ${c.dueAt}`,
          `links: traces ${c.links.traces.join(',') || '-'}, incidents ${c.links.incidents.join(',') || '-'}`,
          c.response ? `response: ${c.response}` : 'no response yet',
          c.escalation ? `escalated ${c.escalatedAt}: ${c.escalation}` : '',
          `regulator: ${c.regulator.name} — ${c.regulator.channel}`,
        ]
          .filter(Boolean)
          .join('\n'),
        { complaint: c },
      );
    });
  });
  cmp
    .command('respond <id>')
    .requiredOption('--text <text>', 'the answer to the complainant')
    .option('--actor <id>', 'privacy officer acting')
    .action(async (id: string, o: { text: string; actor?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const c = await rights.complaints.respond(id, actorOf(o), o.text);
        out.result(`${c.id}: responded; open until the complainant confirms`, { complaint: c });
      });
    });
  cmp
    .command('escalate <id>')
    .description('after the response deadline: close by escalation with a written explanation')
    .requiredOption('--text <text>', 'the written explanation')
    .option('--actor <id>', 'privacy officer acting')
    .action(async (id: string, o: { text: string; actor?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const c = await rights.complaints.escalate(id, actorOf(o), o.text);
        out.result(`${c.id}: escalated; the complainant is shown ${c.regulator.channel}`, { complaint: c });
      });
    });
  cmp
    .command('investigate <id>')
    .description(
      "every reader and recipient of the complainant's record; --out writes the verifiable history",
    )
    .option('--actor <id>', 'privacy officer acting')
    .option('--out <file>', 'history bundle for `custodian ledger verify-subject`')
    .action(async (id: string, o: { actor?: string; out?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const inv = await rights.complaints.investigation(id, actorOf(o));
        if (o.out) writeFileSync(o.out, `${JSON.stringify(inv.history.bundle)}\n`);
        out.result(
          `readers\n${table(
            inv.readers.map((r) => [r.actor, r.roles.join(','), r.reads, r.purposes.join(','), r.last]),
            ['actor', 'roles', 'reads', 'purposes', 'last'],
          )}\n` +
            `recipients\n${table(
              inv.recipients.map((r) => [r.recipient, r.disclosures, r.last]),
              ['recipient', 'disclosures', 'last'],
            )}`,
          { readers: inv.readers, recipients: inv.recipients },
        );
      });
    });

  // Under the existing `ledger` command.
  const ledger = program.commands.find((c) => c.name() === 'ledger') ?? program.command('ledger');
  ledger
    .command('commit-subjects')
    .description(
      'sign the per-subject completeness commitment at the latest checkpoint (the server does it on its cadence)',
    )
    .action(async (_o: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      await withRights(cmd, async (rights) => {
        const r = await rights.commitSubjects();
        out.result(
          r
            ? `committed ${r.subjects} subject(s), ${r.entries} entries, at size ${r.size}`
            : 'nothing new to commit',
          r ?? {},
        );
      });
    });
  ledger
    .command('verify-subject <file>')
    .description(
      "check a subject's downloaded history, one page of it, or a walk of pages (an array, newest first): inclusion, consistency, completeness (no database needed)",
    )
    .option('--key <vkey>', 'the verifier key you trust (default: the one in the file — pin yours)')
    .option('--seen <file>', 'a checkpoint seen before: the consistency proof in the file must connect it')
    .action((file: string, o: { key?: string; seen?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      let doc: unknown;
      try {
        doc = JSON.parse(readFileSync(file, 'utf8'));
      } catch {
        out.result(`${file}: not a readable history document`, { ok: false, problems: ['unreadable'] });
        process.exitCode = EXIT.failure;
        return;
      }
      // Pages of the paged portal history: one page (or the portal's answer wrapping it), or a walk
      // (an array of pages or answers, or {"pages": [...]}, newest first).
      const unwrap = (x: unknown) => ((x as { page?: HistoryPage })?.page ?? x) as HistoryPage;
      const list = Array.isArray(doc) ? doc : (doc as { pages?: unknown[] })?.pages;
      if (Array.isArray(list) || unwrap(doc)?.format === PAGE_FORMAT) {
        const r = Array.isArray(list)
          ? verifyHistoryWalk(list.map(unwrap), o.key)
          : verifyHistoryPage(unwrap(doc), o.key);
        const what =
          'pages' in r
            ? `${r.entries} entries over ${r.pages} pages, each included in a signed checkpoint, and none left out`
            : `page of ${r.entries} entries (positions ${r.from}–${r.to}) included in the checkpoint of size ${r.size}; ${r.newest ? 'his newest entries, none left out among them' : 'chained from its previous head to its head (check it in a walk)'}`;
        out.result(r.ok ? `OK: ${what}` : `FAILED:\n${r.problems.map((p) => `  ${p}`).join('\n')}`, r);
        process.exitCode = r.ok ? EXIT.ok : EXIT.failure;
        return;
      }
      let bundle = doc as HistoryBundle;
      try {
        // The portal's answer wraps the bundle; accept either.
        if ((bundle as unknown as { bundle?: HistoryBundle }).bundle)
          bundle = (bundle as unknown as { bundle: HistoryBundle }).bundle;
        if (o.seen && bundle.consistency) bundle.consistency.checkpoint = readFileSync(o.seen, 'utf8');
      } catch {
        out.result(`${file}: not a readable history document`, { ok: false, problems: ['unreadable'] });
        process.exitCode = EXIT.failure;
        return;
      }
      const r = verifyHistory(bundle, o.key);
      out.result(
        r.ok
          ? `OK: ${r.entries} entries of ${bundle.subject}, each included in the checkpoint of size ${r.size}, and none left out`
          : `FAILED:\n${r.problems.map((p) => `  ${p}`).join('\n')}`,
        r,
      );
      process.exitCode = r.ok ? EXIT.ok : EXIT.failure;
    });
}
