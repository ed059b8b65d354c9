import type { Command } from 'commander';
import type { Config } from '../../config.js';

/**
 * What a module's CLI commands get from the entry point: the parsed configuration, a way to open
 * the services they need (the composition root supplies them, so modules never import src/app),
 * and an output that prints for humans or, with --json, one JSON document for scripts.
 *
 * Exit codes: 0 success, 1 failure, 2 usage error, 3 partial success (e.g. some import rows
 * rejected). A command sets process.exitCode; it never calls process.exit itself.
 */
export const EXIT = { ok: 0, failure: 1, usage: 2, partial: 3 } as const;

export interface Output {
  readonly json: boolean;
  /** Human text on stdout unless --json; then `data` (or nothing) is printed as JSON once. */
  result(human: string, data?: unknown): void;
  /** Progress and notes for humans, on stderr; silent with --json. */
  info(line: string): void;
  /** Whether a progress bar should be drawn (a TTY and not --json). */
  readonly progress: boolean;
}

export type Opened<S> = S & { close(): Promise<void> };

export interface CommandContext<S> {
  /** Configuration from flags (--data-dir, …) and the environment. */
  config(cmd: Command): Config;
  /** Opens the database (migrated) and key file, and builds the services. */
  open(cmd: Command): Promise<Opened<S>>;
  output(cmd: Command): Output;
}
