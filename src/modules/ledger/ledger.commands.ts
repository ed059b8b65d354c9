import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, EXIT, type Output } from '../../lib/cli/index.js';
import { isAppError } from '../../lib/errors.js';
import { ledgerError } from './ledger.errors.js';
import type { Ledger } from './ledger.service.js';
import type { VerifyReport } from './verify.js';
import { watchOnce } from './witness.js';

/**
 * `custodian ledger …`: checkpoint, public-key, proof, verify and watch. Exit codes: 0 success
 * (verify: intact; watch: consistent), 1 failure (verify: not intact, naming the first bad index;
 * watch: split view or unreachable log), 2 usage error.
 */
function report(out: Output, e: unknown): void {
  if (!isAppError(e)) throw e;
  if (out.json)
    out.result('', {
      error: { code: e.code, message: e.message, ...(e.details ? { details: e.details } : {}) },
    });
  else process.stderr.write(`custodian: ${e.code}: ${e.message}\n`);
  process.exitCode = e.status === 400 ? EXIT.usage : EXIT.failure;
}

function usage(out: Output, message: string): void {
  report(out, ledgerError('LEDGER_QUERY_INVALID', { message }));
}

/** A non-negative integer option, or undefined when absent; NaN when malformed. */
function intOption(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  return typeof v === 'string' && /^(0|[1-9][0-9]{0,15})$/.test(v) ? Number(v) : Number.NaN;
}

function humanReport(r: VerifyReport): string {
  const lines: string[] = [];
  if (r.ok) {
    lines.push(
      `ledger intact: ${r.entriesChecked} entries, root ${r.root}`,
      `  ${r.tilesChecked} tiles, ${r.checkpointsChecked} signed checkpoints checked, ${r.pending} pending`,
    );
    if (r.external) lines.push(`  external checkpoint of size ${r.external.size}: consistent`);
    return lines.join('\n');
  }
  const first = r.problems[0];
  lines.push(
    r.firstBadIndex !== null
      ? `ledger NOT intact: first bad index ${r.firstBadIndex}`
      : `ledger NOT intact: ${first?.kind ?? 'problem'}`,
  );
  for (const p of r.problems.slice(0, 20)) {
    lines.push(`  ${p.index === null ? '-' : `#${p.index}`} ${p.kind}: ${p.detail}`);
  }
  if (r.problemCount > 20) lines.push(`  … ${r.problemCount - 20} more`);
  lines.push(`  (${r.entriesChecked} entries of ${r.size} checked)`);
  return lines.join('\n');
}

export function registerLedgerCommands(program: Command, ctx: CommandContext<{ ledger: Ledger }>): void {
  const ledgerCmd = program
    .command('ledger')
    .description('the Merkle ledger: checkpoints, proofs, verification');

  /** Opens the services, runs `fn`, maps AppErrors to the documented output and exit codes. */
  async function withLedger(cmd: Command, fn: (ledger: Ledger, out: Output) => Promise<void>): Promise<void> {
    const out = ctx.output(cmd);
    let services: Awaited<ReturnType<typeof ctx.open>> | undefined;
    try {
      services = await ctx.open(cmd);
      await fn(services.ledger, out);
    } catch (e) {
      report(out, e);
    } finally {
      await services?.close();
    }
  }

  ledgerCmd
    .command('checkpoint')
    .description('sign a checkpoint of the current tree (when it grew) and print the signed note')
    .action(async (_opts: unknown, cmd: Command) =>
      withLedger(cmd, async (ledger, out) => {
        await ledger.integrate();
        const cp = await ledger.checkpoint();
        out.result(cp.note.replace(/\n$/, ''), cp);
      }),
    );

  ledgerCmd
    .command('public-key')
    .description("print the log's verifier key (<name>+<hash>+<base64 key>)")
    .action(async (_opts: unknown, cmd: Command) =>
      withLedger(cmd, async (ledger, out) => {
        const vkey = ledger.vkey();
        out.result(vkey, { origin: ledger.origin, vkey });
      }),
    );

  ledgerCmd
    .command('proof')
    .description('inclusion proof (--index N | --leaf HEX [--size S]) or consistency proof (--from A --to B)')
    .option('--index <n>', 'entry index')
    .option('--leaf <hex>', 'leaf hash (hex)')
    .option('--size <s>', 'tree size to prove against (default: the latest checkpoint)')
    .option('--from <a>', 'older tree size')
    .option('--to <b>', 'newer tree size')
    .action(async (opts: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const index = intOption(opts.index);
      const size = intOption(opts.size);
      const from = intOption(opts.from);
      const to = intOption(opts.to);
      const inclusion = index !== undefined || opts.leaf !== undefined;
      const consistency = from !== undefined || to !== undefined;
      if (inclusion === consistency || (index !== undefined && opts.leaf !== undefined)) {
        return usage(out, 'Give --index or --leaf (with optional --size), or --from and --to.');
      }
      if ([index, size, from, to].some((v) => v !== undefined && Number.isNaN(v))) {
        return usage(out, 'Indexes and sizes are non-negative integers.');
      }
      if (opts.leaf !== undefined && !/^[0-9a-fA-F]{64}$/.test(opts.leaf)) {
        return usage(out, 'The leaf hash is 64 hex digits.');
      }
      if (consistency && (from === undefined || to === undefined))
        return usage(out, 'Give both --from and --to.');
      return withLedger(cmd, async (ledger) => {
        if (inclusion) {
          const q: { index?: number; leafHash?: string; size?: number } = {};
          if (index !== undefined) q.index = index;
          if (opts.leaf !== undefined) q.leafHash = opts.leaf.toLowerCase();
          if (size !== undefined) q.size = size;
          const p = await ledger.inclusionProof(q);
          out.result(
            [
              `inclusion of entry ${p.index} in the tree of size ${p.size}`,
              `leaf ${p.leafHash}`,
              `root ${p.root}`,
              'proof:',
              ...p.proof.map((h) => `  ${h}`),
            ].join('\n'),
            p,
          );
        } else {
          const p = await ledger.consistencyProof(from as number, to as number);
          out.result(
            [
              `consistency of the tree of size ${p.from} with the tree of size ${p.to}`,
              `old root ${p.fromRoot}`,
              `new root ${p.toRoot}`,
              'proof:',
              ...p.proof.map((h) => `  ${h}`),
            ].join('\n'),
            p,
          );
        }
      });
    });

  ledgerCmd
    .command('verify')
    .description('recompute the tree from the entries and check tiles, state and signed checkpoints')
    .option(
      '--checkpoint <file>',
      'also check the log against this signed checkpoint (e.g. one a witness kept)',
    )
    .option('--check-encoding', 'also decode every entry and require its canonical encoding')
    .action(async (opts: { checkpoint?: string; checkEncoding?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      let note: string | undefined;
      if (opts.checkpoint !== undefined) {
        try {
          note = readFileSync(opts.checkpoint, 'utf8');
        } catch {
          return report(
            out,
            ledgerError('LEDGER_CHECKPOINT_INVALID', { details: { reason: 'unreadable file' } }),
          );
        }
      }
      return withLedger(cmd, async (ledger) => {
        out.info('verifying the ledger…');
        const r = await ledger.verify({
          ...(note !== undefined ? { checkpoint: note } : {}),
          ...(opts.checkEncoding ? { checkEncoding: true } : {}),
        });
        out.result(humanReport(r), r);
        process.exitCode = r.ok ? EXIT.ok : EXIT.failure;
      });
    });

  ledgerCmd
    .command('watch')
    .description('witness a log: verify each checkpoint and its consistency with the last one seen')
    .requiredOption('--url <url>', 'base URL of the Custodian server')
    .requiredOption('--state <file>', "the witness's state file (pins the key and the last checkpoint)")
    .option(
      '--key <vkey>',
      'verifier key (default: the one pinned in the state file, else pinned on first contact)',
    )
    .option('--token <token>', 'API key for the proof endpoint (default: $CUSTODIAN_API_KEY)')
    .option('--interval <seconds>', 'seconds between polls', '60')
    .option('--once', 'check once and exit')
    .action(
      async (
        opts: { url: string; state: string; key?: string; token?: string; interval: string; once?: boolean },
        cmd: Command,
      ) => {
        const out = ctx.output(cmd);
        const interval = intOption(opts.interval);
        if (interval === undefined || Number.isNaN(interval) || interval < 1) {
          return usage(out, '--interval is a whole number of seconds, at least 1.');
        }
        const token = opts.token ?? process.env.CUSTODIAN_API_KEY;
        for (;;) {
          const r = await watchOnce({
            url: opts.url,
            statePath: opts.state,
            ...(opts.key !== undefined ? { key: opts.key } : {}),
            ...(token ? { token } : {}),
          });
          if (r.ok) {
            const what = r.advanced
              ? `consistent: tree of ${r.size} entries${r.previousSize !== null ? ` extends ${r.previousSize}` : ''}`
              : `unchanged: tree of ${r.size} entries`;
            out.result(`${r.pinnedKey ? 'pinned the log key on first contact; ' : ''}${what}`, r);
            process.exitCode = EXIT.ok;
          } else {
            if (out.json) out.result('', { error: { code: r.code, message: r.message }, ...r });
            else process.stderr.write(`custodian: ${r.code}: ${r.message}\n`);
            process.exitCode = EXIT.failure;
            // An unreachable log is retried when watching; a split view ends the watch.
            if (opts.once || r.code !== 'LEDGER_WITNESS_FETCH_FAILED') return;
          }
          if (opts.once) return;
          await new Promise((res) => setTimeout(res, interval * 1000));
        }
      },
    );
}
