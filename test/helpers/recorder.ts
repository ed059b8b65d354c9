import type { AuditEvent, Recorder } from '../../src/lib/audit.js';

/**
 * A recorder for unit tests that build one service alone: it keeps the events in memory. The
 * recorder is a required dependency of every service (no code path runs unaudited); tests that
 * check what was recorded in the caller's transaction use `tableRecorder` (test/actors/support.ts)
 * or the real ledger through `createTestApp`.
 */
export function memoryRecorder(): { record: Recorder; events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  const record: Recorder = async (_trx, batch) => {
    events.push(...batch);
    return batch.map(() => '00'.repeat(32));
  };
  return { record, events };
}
