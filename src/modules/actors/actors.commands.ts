import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, EXIT } from '../../lib/cli/index.js';
import { commonError } from '../../lib/errors.js';
import type { Actors, AssignResult, UnassignResult } from './actors.service.js';
import { ACTOR_KINDS, type Actor, type ActorKind } from './model.js';

/**
 * `custodian actors add|list|disable|rotate-key|assign|unassign`. The CLI acts as the operator
 * (events record no actor id: whoever can run it already holds the database and key file).
 */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

function parseAttrs(pairs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const p of pairs) {
    const i = p.indexOf('=');
    if (i <= 0) throw commonError('VALIDATION_FAILED', { message: `--attr expects key=value, got "${p}"` });
    out[p.slice(0, i)] = p.slice(i + 1);
  }
  return out;
}

function describe(a: Actor): string {
  const attrs = Object.entries(a.attributes)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `${a.id}  ${a.name}  ${a.kind}  ${a.status}  roles: ${a.roles.join(',') || '-'}${attrs ? `  ${attrs}` : ''}`;
}

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    throw commonError('VALIDATION_FAILED', { message: `cannot read ${path}` });
  }
}

function bulkSummary(verb: string, n: number, r: AssignResult | UnassignResult): string {
  const lines = [`${verb} ${n}; rejected ${r.rejected.length}`];
  for (const x of r.rejected.slice(0, 50)) lines.push(`  line ${x.line}: ${x.code}`);
  if (r.rejected.length > 50) lines.push(`  … and ${r.rejected.length - 50} more`);
  return lines.join('\n');
}

export function registerActorsCommands(program: Command, ctx: CommandContext<{ actors: Actors }>): Command {
  const group = program
    .command('actors')
    .description('Manage actors (employees, services, partners) and assignments');

  group
    .command('add')
    .description('Create an actor and print its API key (shown once)')
    .argument('<name>', 'unique name, e.g. a staff number')
    .option('--kind <kind>', `one of ${ACTOR_KINDS.join(', ')}`, 'employee')
    .option('--role <role>', 'a role (repeatable)', collect, [])
    .option('--attr <key=value>', 'an attribute, e.g. region=east (repeatable)', collect, [])
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { kind: string; role: string[]; attr: string[] }, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const { actor, apiKey } = await s.actors.create(
          { name, kind: opts.kind as ActorKind, roles: opts.role, attributes: parseAttrs(opts.attr) },
          { by: null },
        );
        out.result(`created ${describe(actor)}\nAPI key (shown once; store it now): ${apiKey}`, {
          actor,
          apiKey,
        });
      } finally {
        await s.close();
      }
    });

  group
    .command('list')
    .description('List actors')
    .option('--role <role>', 'only actors with this role')
    .option('--kind <kind>', 'only this kind')
    .option('--status <status>', 'active or disabled')
    .option('--json', 'print JSON')
    .action(
      async (opts: { role?: string; kind?: ActorKind; status?: 'active' | 'disabled' }, cmd: Command) => {
        const out = ctx.output(cmd);
        const s = await ctx.open(cmd);
        try {
          const list = await s.actors.list(opts);
          out.result(list.length ? list.map(describe).join('\n') : 'no actors', { actors: list });
        } finally {
          await s.close();
        }
      },
    );

  group
    .command('disable')
    .description('Disable an actor; its keys stop working at once')
    .argument('<actor>', 'id or name')
    .option('--json', 'print JSON')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const actor = await s.actors.disable(ref, { by: null });
        out.result(`disabled ${describe(actor)}`, { actor });
      } finally {
        await s.close();
      }
    });

  group
    .command('rotate-key')
    .description("Issue a new API key (shown once) and retire the actor's old keys")
    .argument('<actor>', 'id or name')
    .option('--grace <seconds>', 'let the old keys work this much longer', '0')
    .option('--json', 'print JSON')
    .action(async (ref: string, opts: { grace: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const grace = Number(opts.grace);
      if (!Number.isInteger(grace) || grace < 0) {
        throw commonError('VALIDATION_FAILED', { message: '--grace expects a number of seconds' });
      }
      const s = await ctx.open(cmd);
      try {
        const r = await s.actors.rotateKey(ref, { by: null, graceSeconds: grace });
        const old = r.oldKeysExpireAt
          ? `old keys (${r.retired}) expire at ${r.oldKeysExpireAt}`
          : `${r.retired} old key(s) revoked`;
        out.result(`new API key (shown once; store it now): ${r.apiKey}\n${old}`, r);
      } finally {
        await s.close();
      }
    });

  for (const [name, verb] of [
    ['assign', 'assigned'],
    ['unassign', 'removed'],
  ] as const) {
    group
      .command(name)
      .description(
        name === 'assign'
          ? 'Assign subjects to actors from a CSV file (columns: actor, subject or external_id, [expires_at])'
          : 'Remove assignments listed in a CSV file (columns: actor, subject or external_id)',
      )
      .argument('<file>', 'CSV file with a header row')
      .option('--json', 'print JSON')
      .action(async (file: string, _opts: unknown, cmd: Command) => {
        const out = ctx.output(cmd);
        const text = readText(file);
        const s = await ctx.open(cmd);
        try {
          if (name === 'assign') {
            const r = await s.actors.assignCsv(text, { by: null });
            out.result(bulkSummary(verb, r.assigned, r), r);
            if (r.rejected.length > 0) process.exitCode = EXIT.partial;
          } else {
            const r = await s.actors.unassignCsv(text, { by: null });
            out.result(bulkSummary(verb, r.removed, r), r);
            if (r.rejected.length > 0) process.exitCode = EXIT.partial;
          }
        } finally {
          await s.close();
        }
      });
  }
  return group;
}
