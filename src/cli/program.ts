import { type Command, CommanderError, Option } from 'commander';
import { type Config, ConfigError, loadConfig } from '../config.js';
import { explainStartupError, MigrationError } from '../db/index.js';
import { type CommandContext, createOutput, EXIT, type Opened } from '../lib/cli/index.js';
import { KeyFileError } from '../lib/crypto/index.js';
import { isAppError } from '../lib/errors.js';

/** Adds the options every command takes, so `custodian <cmd> --data-dir X --json` works anywhere. */
export function addCommonOptions(cmd: Command): void {
  for (const sub of cmd.commands) addCommonOptions(sub);
  const has = (flag: string) => cmd.options.some((o) => o.long === flag);
  if (!has('--data-dir'))
    cmd.addOption(
      new Option('--data-dir <dir>', 'data directory (default ./.custodian, or CUSTODIAN_DATA_DIR)'),
    );
  if (!has('--json')) cmd.addOption(new Option('--json', 'machine-readable output'));
}

export function configFrom(cmd: Command, env: NodeJS.ProcessEnv = process.env): Config {
  const o = cmd.optsWithGlobals() as { dataDir?: string; host?: string; port?: string };
  return loadConfig({ dataDir: o.dataDir, host: o.host, port: o.port }, env);
}

export function makeContext<S>(open: (config: Config) => Promise<Opened<S>>): CommandContext<S> {
  return {
    config: (cmd) => configFrom(cmd),
    open: (cmd) => open(configFrom(cmd)),
    output: (cmd) => createOutput(Boolean(cmd.optsWithGlobals().json)),
  };
}

/** Maps what a command throws to a message without PI and an exit code that means something. */
export function reportError(e: unknown, json: boolean): number {
  let code = 'INTERNAL';
  let message = 'internal error';
  let exit: number = EXIT.failure;
  if (e instanceof CommanderError) {
    return e.exitCode === 0 ? EXIT.ok : EXIT.usage;
  }
  if (e instanceof ConfigError) {
    code = 'CONFIG_INVALID';
    message = e.message;
    exit = EXIT.usage;
  } else if (isAppError(e)) {
    code = e.code;
    message = e.message;
    if (e.status === 400 || e.status === 404 || e.status === 409) exit = EXIT.usage;
  } else if (e instanceof KeyFileError || e instanceof MigrationError) {
    code = e instanceof KeyFileError ? 'KEY_FILE_INVALID' : 'MIGRATION_FAILED';
    message = e.message;
  } else if (explainStartupError(e)) {
    // Unreachable PostgreSQL, missing database, wrong user, port in use…: one line, a stable
    // code, a hint. The driver's own error and stack only with CUSTODIAN_DEBUG=1 (docs/errors.md).
    const x = explainStartupError(e)!;
    code = x.code;
    message = `${x.message} (hint: ${x.hint})`;
  }
  if (process.env.CUSTODIAN_DEBUG && e instanceof Error) {
    const cause = (e as { cause?: unknown }).cause;
    message += `\n${e.stack ?? ''}${cause instanceof Error ? `\ncaused by: ${cause.stack ?? cause.message}` : ''}`;
  }
  if (json) process.stdout.write(`${JSON.stringify({ error: { code, message } })}\n`);
  else process.stderr.write(`custodian: ${code}: ${message}\n`);
  return exit;
}
