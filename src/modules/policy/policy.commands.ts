import type { Command } from 'commander';
import { type CommandContext, EXIT } from '../../lib/cli/index.js';
import { isAppError } from '../../lib/errors.js';
import { compilePolicy } from './compile.js';
import { type PolicyService, readPolicyFile } from './policy.service.js';
import type { AccessReview } from './review.js';
import { describeIssues, type PolicyIssue } from './schema.js';

/** `custodian policy load|check|show|history|review`. */
function reportInvalid(e: unknown, out: ReturnType<CommandContext<unknown>['output']>): boolean {
  if (!isAppError(e) || e.code !== 'POLICY_INVALID') return false;
  const issues = (e.details?.issues ?? []) as PolicyIssue[];
  if (out.json) out.result('', { error: { code: e.code, message: e.message, issues } });
  else process.stderr.write(`${e.message}\n${describeIssues(issues)}\n`);
  process.exitCode = EXIT.failure;
  return true;
}

export function formatReview(r: AccessReview): string {
  const lines = [`Access review of policy ${r.policy.name} ${r.policy.version} (${r.since} .. ${r.until})`];
  let role = '';
  for (const g of r.grants) {
    if (g.role !== role) {
      role = g.role;
      lines.push('', `role ${role}`);
    }
    const c = g.conditions;
    const conds = [
      c.assignment ? 'assigned only' : 'any subject',
      c.quota ? `quota ${c.quota.daily}/day${c.quota.approvalUnlocks ? ' (approval unlocks)' : ''}` : null,
      c.hours ? `hours ${c.hours.from}-${c.hours.to}` : null,
      c.approval ? 'approval required' : null,
      c.consent ? 'consent required' : null,
    ].filter(Boolean);
    lines.push(
      `  ${g.purpose} (${g.basis}${g.necessary ? ', necessary' : ', optional'}): ${conds.join(', ')}`,
    );
    if (g.fields.length === 0) lines.push('    (no field visible)');
    for (const f of g.fields) {
      const use = f.used ? `last used ${f.lastUsed}` : 'UNUSED';
      lines.push(
        `    ${f.field.padEnd(14)} ${f.view.padEnd(7)}${f.via === 'break_glass' ? ' (break-glass)' : ''}  ${use}`,
      );
    }
  }
  if (r.permissions.length) {
    lines.push('', 'permissions (outside the read path)');
    for (const p of r.permissions) lines.push(`  ${p.role.padEnd(18)} ${p.actions.join(', ')}`);
  }
  if (r.findings.length) {
    lines.push('', 'findings');
    for (const f of r.findings)
      lines.push(`  ${f.code}  ${f.role} / ${f.purpose}${f.field ? ` / ${f.field}` : ''}`);
  }
  return lines.join('\n');
}

export function registerPolicyCommands(
  program: Command,
  ctx: CommandContext<{ policy: PolicyService }>,
): Command {
  const group = program.command('policy').description('Load, show and review the access policy');

  group
    .command('load')
    .description('Validate a policy file and make it the active policy (recorded in the ledger)')
    .argument('<file>', 'YAML policy file')
    .option('--json', 'print JSON')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      let text: string;
      try {
        text = readPolicyFile(file);
        compilePolicy(text);
      } catch (e) {
        if (reportInvalid(e, out)) return;
        throw e;
      }
      const s = await ctx.open(cmd);
      try {
        const r = await s.policy.load(text, { by: null });
        out.result(
          r.changed
            ? `loaded policy ${r.name} version ${r.version} (sha256 ${r.hash})${r.previous ? `, replacing ${r.previous.version}` : ''}`
            : `policy ${r.name} version ${r.version} is already active; nothing changed`,
          r,
        );
      } finally {
        await s.close();
      }
    });

  group
    .command('check')
    .description('Validate a policy file without loading it')
    .argument('<file>', 'YAML policy file')
    .option('--json', 'print JSON')
    .action(async (file: string, _opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      try {
        const p = compilePolicy(readPolicyFile(file));
        out.result(
          `policy ${p.name} version ${p.version} is valid: ${p.purposes.size} purposes, ${p.grants.length} grants`,
          {
            valid: true,
            name: p.name,
            version: p.version,
            hash: p.hash,
          },
        );
      } catch (e) {
        if (reportInvalid(e, out)) return;
        throw e;
      }
    });

  group
    .command('show')
    .description('Show the active policy')
    .option('--text', 'print the policy text itself')
    .option('--json', 'print JSON')
    .action(async (opts: { text?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const p = await s.policy.show();
        const head = `policy ${p.name} version ${p.version}\nsha256 ${p.hash}\ntimezone ${p.timezone}\nloaded ${p.loadedAt}${p.loadedBy ? ` by ${p.loadedBy}` : ''}`;
        out.result(opts.text ? p.text : head, p);
      } finally {
        await s.close();
      }
    });

  group
    .command('history')
    .description('List every policy version loaded')
    .option('--json', 'print JSON')
    .action(async (_opts: unknown, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const vs = await s.policy.versions();
        out.result(
          vs
            .map((v) => `${v.seq}  ${v.loadedAt}  ${v.name} ${v.version}  ${v.hash.slice(0, 16)}`)
            .join('\n') || 'none',
          { versions: vs },
        );
      } finally {
        await s.close();
      }
    });

  group
    .command('review')
    .description(
      'Access review: what each role sees per purpose, grants unused in the period, and who may do what',
    )
    .option('--days <n>', 'period in days', '30')
    .option('--json', 'print JSON')
    .action(async (opts: { days: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const days = Number(opts.days);
      if (!Number.isInteger(days) || days < 1 || days > 365) {
        process.stderr.write('--days expects a whole number from 1 to 365\n');
        process.exitCode = EXIT.usage;
        return;
      }
      const s = await ctx.open(cmd);
      try {
        const r = await s.policy.review({ days });
        out.result(formatReview(r), r);
      } finally {
        await s.close();
      }
    });

  return group;
}
