import type { Command } from 'commander';
import type { Kysely } from 'kysely';
import type { AuditEvent, Recorder } from '../../src/lib/audit.js';
import type { CommandContext, Opened, Output } from '../../src/lib/cli/index.js';
import { createLogger } from '../../src/lib/log.js';

/**
 * A recorder that appends events to a scratch table inside the caller's transaction, as the ledger
 * does, so tests can see both what was recorded and that a rollback takes the events with it.
 */
export async function tableRecorder(db: Kysely<any>, options: { failOn?: string } = {}) {
  await db.schema
    .createTable('test_audit')
    .ifNotExists()
    .addColumn('n', 'integer', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('actor', 'text')
    .addColumn('purpose', 'text')
    .addColumn('attrs', 'text', (c) => c.notNull())
    .execute();
  let n = 0;
  const record: Recorder = async (trx, events) => {
    for (const e of events) {
      if (options.failOn === e.kind) throw new Error(`recorder refused ${e.kind}`);
      await trx
        .insertInto('test_audit')
        .values({
          n: ++n,
          kind: e.kind,
          actor: e.actor,
          purpose: e.purpose ?? null,
          attrs: JSON.stringify(e.attrs ?? {}),
        })
        .execute();
    }
    return events.map(() => '00'.repeat(32));
  };
  const events = async (kind?: string): Promise<(AuditEvent & { attrs: Record<string, unknown> })[]> => {
    let q = db.selectFrom('test_audit').selectAll().orderBy('n');
    if (kind) q = q.where('kind', '=', kind);
    const rows = await q.execute();
    return rows.map((r: any) => ({
      kind: r.kind,
      actor: r.actor,
      purpose: r.purpose,
      attrs: JSON.parse(r.attrs),
    }));
  };
  return { record, events };
}

export const silentLogger = () => createLogger({ level: 'silent' });

/** A CommandContext over already-built services, capturing what the commands print. */
export function commandContext<S>(services: S) {
  const printed: { human: string[]; json: unknown[]; info: string[] } = { human: [], json: [], info: [] };
  const ctx: CommandContext<S> = {
    config: () => {
      throw new Error('not used');
    },
    open: async () => ({ ...services, close: async () => {} }) as Opened<S>,
    output: (cmd: Command): Output => {
      const json = Boolean(cmd.optsWithGlobals().json);
      return {
        json,
        progress: false,
        result(human, data) {
          if (json) printed.json.push(data);
          else printed.human.push(human);
        },
        info(line) {
          if (!json) printed.info.push(line);
        },
      };
    },
  };
  return { ctx, printed };
}
