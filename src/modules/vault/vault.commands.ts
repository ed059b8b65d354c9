import { createReadStream, statSync } from 'node:fs';
import cliProgress from 'cli-progress';
import { type Command, InvalidArgumentError } from 'commander';
import { type CommandContext, EXIT, type Output } from '../../lib/cli/index.js';
import { isAppError } from '../../lib/errors.js';
import { type ImportResult, importSubjects } from './import.js';
import { rotateKeys } from './rotate.js';
import type { Vault } from './vault.service.js';

/**
 * `custodian import subjects FILE.csv` and `custodian keys rotate`.
 *
 * Import exit codes: 0 every row imported (or already present), 3 some rows rejected (the report
 * lists row, line, column and code — never a value), 2 the file is missing or its header is not
 * usable (nothing was written), 1 anything else (e.g. the database failed; committed batches stay
 * and re-running the same file completes the import).
 */
function group(program: Command, name: string, description: string): Command {
  return program.commands.find((c) => c.name() === name) ?? program.command(name).description(description);
}

function positiveInt(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('expected a positive integer');
  return n;
}

function printError(out: Output, code: string, message: string): void {
  if (out.json) out.result('', { error: { code, message } });
  else process.stderr.write(`custodian: ${code}: ${message}\n`);
}

const MAX_HUMAN_LINES = 1000;

function importSummary(r: ImportResult): string {
  const lines = [
    `rows ${r.rows}: imported ${r.imported}, updated ${r.updated}, unchanged ${r.unchanged}, rejected ${r.rejectedRows}`,
  ];
  for (const p of r.rejected.slice(0, MAX_HUMAN_LINES)) {
    lines.push(`  row ${p.row} (line ${p.line})${p.column ? ` column ${p.column}` : ''}: ${p.code}`);
  }
  if (r.rejected.length > MAX_HUMAN_LINES || r.rejectedTruncated) {
    lines.push(
      `  … ${r.rejectedRows} rows rejected in all (--json lists up to ${r.rejected.length} problems)`,
    );
  }
  if (r.aborted) lines.push(`stopped: ${r.aborted.code} after row ${r.aborted.afterRow}; re-run to complete`);
  return lines.join('\n');
}

export function registerVaultCommands(program: Command, ctx: CommandContext<{ vault: Vault }>): void {
  group(program, 'import', 'Import data from files')
    .command('subjects')
    .description('Import subjects from a CSV file (header: external_id and catalog fields)')
    .argument('<file>', 'CSV file, UTF-8')
    .option('--batch-size <n>', 'rows per transaction', positiveInt, 1000)
    .option('--json', 'print the result as JSON')
    .action(async (file: string, opts: { batchSize: number }, cmd: Command) => {
      const out = ctx.output(cmd);
      let size: number;
      try {
        const st = statSync(file);
        if (!st.isFile()) throw new Error('not a file');
        size = st.size;
      } catch {
        printError(out, 'IMPORT_FILE_UNREADABLE', `cannot read ${file}`);
        process.exitCode = EXIT.usage;
        return;
      }
      const services = await ctx.open(cmd);
      const bar = out.progress
        ? new cliProgress.SingleBar(
            { format: 'import |{bar}| {percentage}% | {rows} rows | {rejected} rejected', hideCursor: true },
            cliProgress.Presets.shades_classic,
          )
        : undefined;
      try {
        bar?.start(size, 0, { rows: 0, rejected: 0 });
        const result = await importSubjects(
          services.vault,
          createReadStream(file, { highWaterMark: 256 * 1024 }),
          {
            batchSize: opts.batchSize,
            // A worker thread pays for itself from about a megabyte (a few thousand rows).
            worker: size > 1024 * 1024,
            onProgress: (p) => bar?.update(p.bytes, { rows: p.rows, rejected: p.rejectedRows }),
          },
        );
        bar?.stop();
        out.result(importSummary(result), result);
        process.exitCode = result.aborted ? EXIT.failure : result.rejectedRows > 0 ? EXIT.partial : EXIT.ok;
      } catch (e) {
        bar?.stop();
        if (isAppError(e) && e.code.startsWith('IMPORT_')) {
          printError(out, e.code, e.message);
          process.exitCode = EXIT.usage;
          return;
        }
        process.exitCode = EXIT.failure;
        throw e;
      } finally {
        await services.close();
      }
    });

  group(program, 'keys', 'Manage keys')
    .command('rotate')
    .description('Add a new key-encryption key and rewrap every data key under it; reads go on meanwhile')
    .option('--batch-size <n>', 'data keys per transaction', positiveInt, 1000)
    .option('--keep-old', 'keep older KEK versions in the key file')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { batchSize: number; keepOld?: boolean }, cmd: Command) => {
      const out = ctx.output(cmd);
      const services = await ctx.open(cmd);
      let bar: cliProgress.SingleBar | undefined;
      try {
        const result = await rotateKeys(services.vault, {
          batchSize: opts.batchSize,
          retire: !opts.keepOld,
          onProgress: ({ done, total }) => {
            if (!out.progress) return;
            if (!bar) {
              bar = new cliProgress.SingleBar(
                { format: 'rewrap |{bar}| {value}/{total} data keys', hideCursor: true },
                cliProgress.Presets.shades_classic,
              );
              bar.start(total, done);
            } else bar.update(done);
          },
        });
        bar?.stop();
        out.result(
          `KEK version ${result.to} is current; ${result.rewrapped} data keys rewrapped` +
            (result.from.length ? ` from version ${result.from.join(', ')}` : '') +
            (result.retired.length
              ? `; retired version ${result.retired.join(', ')}`
              : '; older versions kept'),
          result,
        );
        process.exitCode = EXIT.ok;
      } catch (e) {
        bar?.stop();
        process.exitCode = EXIT.failure;
        throw e;
      } finally {
        await services.close();
      }
    });
}
