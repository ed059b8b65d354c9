/**
 * Threat: a cache of authenticated keys (docs/adr/0017) keeps a revoked, rotated-away, expired or
 * disabled actor's key working. Guards: any change made through this node forgets every cached key
 * at once (including a lookup that raced the change); a key's own expiry is checked on every hit;
 * a change made by another node (here: a second service over the same database) is seen within the
 * cache's time to live; with a time to live of 0 nothing is cached.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { type Actors, createActors } from '../../src/modules/actors/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

describeEachDialect('authenticated-key cache (security)', (dialect) => {
  let d: TestDatabase;
  const clock = fixedClock('2025-03-10T02:00:00Z');
  let node1: Actors;
  let node2: Actors;
  const TTL = 300;

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    const record = memoryRecorder().record;
    node1 = createActors({ db: d.db, dialect, clock, record, authCacheMs: TTL });
    node2 = createActors({ db: d.db, dialect, clock, record, authCacheMs: TTL });
    await node1.create({ name: 'root', kind: 'employee', roles: ['admin'] }, { by: null });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  const newActor = async (name: string) =>
    node1.create({ name, kind: 'employee', roles: ['support'] }, { by: null });

  it('a key revoked, rotated away or disabled on this node stops working at once', async () => {
    const a = await newActor('a1');
    expect((await node1.authenticate(a.apiKey))?.id).toBe(a.actor.id);
    const [k] = await node1.keys(a.actor.id);
    await node1.revokeKey(k!.id, { by: null });
    expect(await node1.authenticate(a.apiKey)).toBeUndefined();

    const b = await newActor('b1');
    expect(await node1.authenticate(b.apiKey)).toBeDefined();
    const rotated = await node1.rotateKey(b.actor.id, { by: null });
    expect(await node1.authenticate(b.apiKey)).toBeUndefined();
    expect((await node1.authenticate(rotated.apiKey))?.id).toBe(b.actor.id);

    const c = await newActor('c1');
    expect(await node1.authenticate(c.apiKey)).toBeDefined();
    await node1.disable(c.actor.id, { by: null });
    expect(await node1.authenticate(c.apiKey)).toBeUndefined();
  });

  it("another node's change is seen within the time to live, not later", async () => {
    const a = await newActor('a2');
    expect(await node1.authenticate(a.apiKey)).toBeDefined();
    await node2.disable(a.actor.id, { by: null });
    expect(await node2.authenticate(a.apiKey)).toBeUndefined();
    await sleep(TTL + 50);
    expect(await node1.authenticate(a.apiKey)).toBeUndefined();
  });

  it("a key's own expiry holds on a cache hit", async () => {
    const t0 = clock.now().getTime();
    const a = await newActor('a3');
    // Rotation with a grace period: the old key lives 60 s more, then expires by itself.
    await node1.rotateKey(a.actor.id, { by: null, graceSeconds: 60 });
    expect(await node1.authenticate(a.apiKey)).toBeDefined();
    clock.advance(30_000);
    expect(await node1.authenticate(a.apiKey)).toBeDefined();
    clock.set(new Date(t0 + 61_000));
    try {
      expect(await node1.authenticate(a.apiKey)).toBeUndefined();
    } finally {
      clock.set(new Date(t0));
    }
  });

  it('with a time to live of 0 every request asks the database', async () => {
    const record = memoryRecorder().record;
    const uncached = createActors({ db: d.db, dialect, clock, record });
    const a = await newActor('a4');
    expect(await uncached.authenticate(a.apiKey)).toBeDefined();
    await node2.disable(a.actor.id, { by: null });
    expect(await uncached.authenticate(a.apiKey)).toBeUndefined();
  });
});
