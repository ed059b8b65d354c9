/**
 * Threat: appendBatch's fast path (ADR 0019) extends the tree this process committed last without
 * reading the state row first. If another writer moved the log meanwhile, or someone wound the
 * state back under rows that stayed, a stale frontier must never commit: two processes must not
 * commit two different trees, and a wound-back log must be refused (LEDGER_INCONSISTENT), exactly
 * as when the state is read first.
 */
import { sql } from 'kysely';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { isAppError } from '../../src/lib/errors.js';
import { createLedger, encodeEntry, type Ledger, rootFromEntries } from '../../src/modules/ledger/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { createTestLedger, events, ORIGIN, type TestLedger } from './helpers.js';

describeEachDialect('appendBatch fast path', (dialect) => {
  let t: TestLedger;
  let other: Ledger;
  const all: Buffer[] = [];
  const at = '2024-03-01T08:00:00.000Z';

  beforeAll(async () => {
    t = await createTestLedger(dialect);
    // A second writer on the same database: another process, with its own cached frontier.
    other = createLedger({
      db: t.db.db,
      dialect,
      keyring: t.keyring,
      origin: ORIGIN,
      clock: fixedClock(at),
    });
  });
  afterAll(async () => {
    await t.db.destroy();
  });

  it('two writers taking turns build one tree, with the entries in the order they committed', async () => {
    const sizes = [300, 1, 700, 256, 513, 1000, 2];
    let n = 0;
    for (const [k, count] of sizes.entries()) {
      const writer = k % 2 === 0 ? t.ledger : other;
      const evs = events(50_000 + n, count);
      const r = await writer.appendBatch(evs);
      expect(r.first).toBe(n);
      n += count;
      expect(r.size).toBe(n);
      for (const e of evs) all.push(encodeEntry(e, at));
      // And the same writer twice in a row (its cache is current: the fast path).
      const again = events(90_000 + n, 3);
      expect((await writer.appendBatch(again)).first).toBe(n);
      n += 3;
      for (const e of again) all.push(encodeEntry(e, at));
    }
    await t.ledger.checkpoint();
    const report = await other.verify();
    expect(report.ok).toBe(true);
    expect(report.root).toBe(rootFromEntries(all).toString('hex'));
  });

  it('a state wound back under the rows is refused, not built upon from the cached frontier', async () => {
    const size = await t.ledger.size();
    await t.ledger.appendBatch(events(200_000, 10));
    // The attacker (or a botched restore) moves the state row back; entries and tiles stay.
    const { root } = (
      await sql<{ root: Buffer }>`SELECT root FROM ledger_state WHERE id = 1`.execute(t.db.db)
    ).rows[0] as { root: Buffer };
    const oldRoot = rootFromEntries(all.slice(0, size));
    expect(Buffer.from(root).equals(oldRoot)).toBe(false);
    await sql`UPDATE ledger_state SET size = ${size}, root = ${oldRoot} WHERE id = 1`.execute(t.db.db);
    let code: string | undefined;
    try {
      await t.ledger.appendBatch(events(300_000, 10));
    } catch (e) {
      code = isAppError(e) ? e.code : (e as Error).message;
    }
    expect(code).toBe('LEDGER_INCONSISTENT');
    expect(await t.ledger.size()).toBe(size);
  });
});
