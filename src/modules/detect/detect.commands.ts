import type { Command } from 'commander';
import { type CommandContext, table } from '../../lib/cli/index.js';
import type { Alert, AlertState, Detect } from './detect.service.js';

/**
 * `custodian alerts list|show|ack|resolve` and `custodian actors suspend|reinstate`. The CLI acts
 * as the operator (`cli`): whoever can run it holds the database and the key file.
 */
const OPERATOR = 'cli';

function line(a: Alert): string[] {
  return [
    a.id,
    a.createdAt.slice(0, 19),
    a.status,
    a.severity,
    a.detector ?? a.kind,
    a.actor ?? '-',
    a.assignee ?? '-',
  ];
}

export function registerDetectCommands(program: Command, ctx: CommandContext<{ detect: Detect }>): void {
  const alerts = program.command('alerts').description('The alert queue: list, show, acknowledge, resolve');
  alerts
    .command('list')
    .description('List alerts, newest first')
    .option('--status <status>', 'open, acknowledged, true_positive, false_positive, resolved')
    .option('--actor <id>', 'alerts about this actor')
    .option('--detector <name>', 'alerts of this detector')
    .option('--limit <n>', 'at most this many', '50')
    .option('--json', 'print JSON')
    .action(
      async (o: { status?: string; actor?: string; detector?: string; limit: string }, cmd: Command) => {
        const out = ctx.output(cmd);
        const s = await ctx.open(cmd);
        try {
          const list = await s.detect.list({
            ...(o.status ? { status: o.status as AlertState } : {}),
            ...(o.actor ? { actorId: o.actor } : {}),
            ...(o.detector ? { detector: o.detector } : {}),
            limit: Number(o.limit) || 50,
          });
          out.result(
            table(list.map(line), ['id', 'created', 'status', 'severity', 'detector', 'actor', 'assignee']),
            { alerts: list },
          );
        } finally {
          await s.close();
        }
      },
    );
  alerts
    .command('show')
    .description('One alert and its evidence (ledger leaf hashes)')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, _o, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const a = await s.detect.get(id);
        const lines = [
          `${a.id}  ${a.status}  ${a.severity}  ${a.detector ?? a.kind}`,
          `actor ${a.actor ?? '-'}  assignee ${a.assignee ?? '-'}  created ${a.createdAt}`,
          `attrs ${JSON.stringify(a.attrs)}`,
          ...(a.reason ? [`reason ${a.reason}`] : []),
          `evidence (${a.evidence.length} ledger entries):`,
          ...a.evidence.map((l) => `  ${l}`),
        ];
        out.result(lines.join('\n'), { alert: a });
      } finally {
        await s.close();
      }
    });
  alerts
    .command('ack')
    .description('Acknowledge an alert')
    .argument('<id>')
    .option('--json', 'print JSON')
    .action(async (id: string, _o, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const a = await s.detect.transition(id, 'ack', OPERATOR);
        out.result(`${a.id} ${a.status}`, { alert: a });
      } finally {
        await s.close();
      }
    });
  alerts
    .command('resolve')
    .description('Resolve an alert, or record a verdict on it')
    .argument('<id>')
    .requiredOption('--reason <text>', 'why (kept in the ledger)')
    .option('--verdict <verdict>', 'true-positive or false-positive (default: resolved)')
    .option('--suppress-days <n>', 'with false-positive: mute this detector for the actor for n days')
    .option('--json', 'print JSON')
    .action(
      async (id: string, o: { reason: string; verdict?: string; suppressDays?: string }, cmd: Command) => {
        const out = ctx.output(cmd);
        const s = await ctx.open(cmd);
        try {
          const action =
            o.verdict === 'true-positive'
              ? 'true_positive'
              : o.verdict === 'false-positive'
                ? 'false_positive'
                : 'resolve';
          const a = await s.detect.transition(id, action, OPERATOR, {
            reason: o.reason,
            ...(o.suppressDays ? { suppressDays: Number(o.suppressDays) } : {}),
          });
          out.result(`${a.id} ${a.status}`, { alert: a });
        } finally {
          await s.close();
        }
      },
    );

  // `actors` is the actors module's group; suspension lives here, with detection.
  const actors =
    program.commands.find((c) => c.name() === 'actors') ??
    program.command('actors').description('Manage actors (employees, services, partners)');
  actors
    .command('suspend')
    .description('Suspend an actor: refused from its very next read until reinstated')
    .argument('<actor-id>')
    .requiredOption('--reason <text>', 'why (kept in the ledger)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const sus = await s.detect.suspend(id, OPERATOR, o.reason);
        out.result(`suspended ${id} (${sus.id})`, { suspension: sus });
      } finally {
        await s.close();
      }
    });
  actors
    .command('reinstate')
    .description('Lift an actor’s suspension, with a reason')
    .argument('<actor-id>')
    .requiredOption('--reason <text>', 'why (kept in the ledger)')
    .option('--json', 'print JSON')
    .action(async (id: string, o: { reason: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const n = await s.detect.reinstate(id, OPERATOR, o.reason);
        out.result(`reinstated ${id} (${n} suspension(s) lifted)`, { reinstated: true, lifted: n });
      } finally {
        await s.close();
      }
    });
}
