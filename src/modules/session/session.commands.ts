import type { Command } from 'commander';
import type { CommandContext } from '../../lib/cli/index.js';
import type { Sessions } from './session.service.js';

/** `custodian console login-link --actor ID` and `custodian console revoke --actor ID`. */
export function registerSessionCommands(
  program: Command,
  ctx: CommandContext<{ sessions: Sessions }>,
): Command {
  const group = program.command('console').description('Web console sign-in: one-time login links, sessions');
  group
    .command('login-link')
    .description('Print a one-time console login link for an actor (valid 10 minutes, works once)')
    .requiredOption('--actor <actor>', 'actor id or name')
    .option('--json', 'print JSON')
    .action(async (opts: { actor: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const config = ctx.config(cmd);
      const s = await ctx.open(cmd);
      try {
        const link = await s.sessions.issueLink(opts.actor);
        const scheme = config.tlsCert && config.tlsKey ? 'https' : 'http';
        const host = config.host.includes(':') ? `[${config.host}]` : config.host;
        // The secret travels in the fragment: browsers never send it to the server or in Referer.
        const url = `${scheme}://${host}:${config.port}/console/#link=${link.token}`;
        out.result(`${url}\n(expires ${link.expiresAt}; works once)`, { url, ...link });
      } finally {
        await s.close();
      }
    });
  group
    .command('revoke')
    .description('End every console session of an actor')
    .requiredOption('--actor <actor>', 'actor id or name')
    .option('--json', 'print JSON')
    .action(async (opts: { actor: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = await ctx.open(cmd);
      try {
        const n = await s.sessions.revokeActor(opts.actor, null);
        out.result(`revoked ${n} session(s)`, { revoked: n });
      } finally {
        await s.close();
      }
    });
  return group;
}
