/**
 * Threat: someone who obtains a copy of the database (exposed-database-2022), or guesses, alters,
 * replays or keeps using a key after it was revoked, rotated away or its actor disabled, acts as an
 * actor. Guards: only SHA-256 of each 256-bit token is stored, so the database yields no usable
 * key; authentication accepts only the exact live token of an active actor; a key id alone, or one
 * actor's key id with another's secret, gets nothing.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { type Actors, createActors } from '../../src/modules/actors/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

describeEachDialect('API key authentication (security)', (dialect) => {
  let d: TestDatabase;
  let actors: Actors;
  const clock = fixedClock('2025-03-10T02:00:00Z');
  let alice: { id: string; key: string };
  let bob: { id: string; key: string };

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    actors = createActors({ db: d.db, dialect, clock, record: memoryRecorder().record });
    const a = await actors.create({ name: 'alice', kind: 'employee', roles: ['support'] }, { by: null });
    const b = await actors.create({ name: 'bob', kind: 'partner', roles: ['partner'] }, { by: null });
    alice = { id: a.actor.id, key: a.apiKey };
    bob = { id: b.actor.id, key: b.apiKey };
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('the database holds no token and no secret, only hashes', async () => {
    const rows = await d.db.selectFrom('api_keys').selectAll().execute();
    const dump = JSON.stringify(rows, (_k, v) =>
      v && v.type === 'Buffer' ? Buffer.from(v.data).toString('hex') : v,
    );
    for (const key of [alice.key, bob.key]) {
      const secret = key.split('_')[2]!;
      expect(dump).not.toContain(secret);
      expect(dump).not.toContain(Buffer.from(secret).toString('hex'));
    }
    if (d.file) {
      // The SQLite file and its WAL, byte for byte.
      for (const f of [d.file, `${d.file}-wal`]) {
        let bytes: Buffer;
        try {
          bytes = readFileSync(f);
        } catch {
          continue;
        }
        for (const key of [alice.key, bob.key])
          expect(bytes.includes(Buffer.from(key.split('_')[2]!))).toBe(false);
      }
    }
  });

  it('the exact token authenticates its own actor only', async () => {
    expect((await actors.authenticate(alice.key))?.id).toBe(alice.id);
    expect((await actors.authenticate(bob.key))?.id).toBe(bob.id);
  });

  it.each([
    ['empty', () => ''],
    ['the prefix alone', () => 'ctk_'],
    ['the key id alone', () => `ctk_${alice.key.split('_')[1]}`],
    ['one secret character changed', () => alice.key.slice(0, -1) + (alice.key.endsWith('a') ? 'b' : 'a')],
    ['a truncated secret', () => alice.key.slice(0, -1)],
    ['an extra character', () => `${alice.key}a`],
    ['upper case', () => alice.key.toUpperCase()],
    ["alice's key id with bob's secret", () => `ctk_${alice.key.split('_')[1]}_${bob.key.split('_')[2]}`],
    ['an unknown key id with a well-formed secret', () => `ctk_${'a'.repeat(16)}_${alice.key.split('_')[2]}`],
    ['the stored hash as a token', () => 'ctk_' + '0'.repeat(64)],
    ['a very long string', () => 'ctk_'.padEnd(100_000, 'a')],
    ['SQL in the key id', () => `ctk_' OR '1'='1_${alice.key.split('_')[2]}`],
  ])('rejects %s', async (_what, token) => {
    expect(await actors.authenticate(token())).toBeUndefined();
  });

  it('a revoked, rotated-away or expired key, or a disabled actor, gets nothing', async () => {
    const c = await actors.create(
      { name: 'carol', kind: 'service', roles: ['contact_service'] },
      { by: null },
    );
    const rotated = await actors.rotateKey(c.actor.id, { by: null });
    expect(await actors.authenticate(c.apiKey)).toBeUndefined();
    const graced = await actors.rotateKey(c.actor.id, { by: null, graceSeconds: 60 });
    expect((await actors.authenticate(rotated.apiKey))?.id).toBe(c.actor.id);
    clock.advance(60_000);
    expect(await actors.authenticate(rotated.apiKey)).toBeUndefined();
    await actors.revokeKey(graced.keyId, { by: null });
    expect(await actors.authenticate(graced.apiKey)).toBeUndefined();

    const fresh = await actors.rotateKey(c.actor.id, { by: null });
    expect((await actors.authenticate(fresh.apiKey))?.id).toBe(c.actor.id);
    await actors.disable(c.actor.id, { by: null });
    expect(await actors.authenticate(fresh.apiKey)).toBeUndefined();
  });

  it('a key id cannot be used to log in as someone else after a database edit of the actor link', async () => {
    // Re-pointing a key row at another actor does not help an attacker without the token, and the
    // hash binds the token to its key id: swapping hashes between rows breaks both keys.
    const rows = await d.db
      .selectFrom('api_keys')
      .select(['id', 'hash'])
      .where('actor_id', 'in', [alice.id, bob.id])
      .execute();
    const a = rows.find((r) => alice.key.includes(r.id as string))!;
    const b = rows.find((r) => bob.key.includes(r.id as string))!;
    await d.db.updateTable('api_keys').set({ hash: b.hash }).where('id', '=', a.id).execute();
    expect(await actors.authenticate(bob.key.replace(b.id as string, a.id as string))).toBeUndefined();
    expect(await actors.authenticate(alice.key)).toBeUndefined();
    await d.db.updateTable('api_keys').set({ hash: a.hash }).where('id', '=', a.id).execute();
    expect((await actors.authenticate(alice.key))?.id).toBe(alice.id);
  });
});
