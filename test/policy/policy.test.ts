import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { isAppError } from '../../src/lib/errors.js';
import {
  createPolicyService,
  defaultPolicyFile,
  type PolicyService,
  policyHash,
} from '../../src/modules/policy/index.js';
import { tableRecorder } from '../actors/support.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

const V2 = `name: small
version: "2"
purposes:
  sales: { basis: contract, necessary: true }
grants:
  - role: seller
    purpose: sales
    fields: { name: masked }
`;

async function code(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (e) {
    return isAppError(e) ? e.code : `not an AppError: ${String(e)}`;
  }
  return 'resolved';
}

describeEachDialect('policy versions', (dialect) => {
  let d: TestDatabase;
  let policy: PolicyService;
  let audit: Awaited<ReturnType<typeof tableRecorder>>;
  const clock = fixedClock('2025-03-10T02:00:00Z');
  const guardedText = readFileSync(defaultPolicyFile(), 'utf8');

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    audit = await tableRecorder(d.db);
    policy = createPolicyService({ db: d.db, dialect, clock, record: audit.record });
  });
  afterAll(async () => {
    await d?.destroy();
  });

  it('before anything is loaded, decisions are refused rather than defaulted', async () => {
    expect(await code(policy.active())).toBe('POLICY_NOT_LOADED');
    expect(() => policy.decide({} as never)).toThrow(/No access policy/);
  });

  it('init() loads the default "guarded" policy into an empty database, once, recording policy.changed', async () => {
    const p = await policy.init();
    expect(p.name).toBe('guarded');
    expect(p.hash).toBe(policyHash(guardedText));
    await policy.init();
    const events = await audit.events('policy.changed');
    expect(events).toEqual([
      {
        kind: 'policy.changed',
        actor: null,
        purpose: null,
        attrs: {
          name: 'guarded',
          version: p.version,
          hash: p.hash,
          previousVersion: null,
          previousHash: null,
        },
      },
    ]);
    expect(await policy.versions()).toEqual([
      {
        seq: 1,
        name: 'guarded',
        version: p.version,
        hash: p.hash,
        loadedAt: '2025-03-10T02:00:00.000Z',
        loadedBy: null,
      },
    ]);
  });

  it('loading a new text activates it and records version, hash and predecessor; the same text is a no-op', async () => {
    const r = await policy.load(V2, { by: 'act_admin' });
    expect(r).toMatchObject({ changed: true, name: 'small', version: '2', hash: policyHash(V2) });
    expect(r.previous?.hash).toBe(policyHash(guardedText));
    expect((await policy.active()).name).toBe('small');
    expect((await audit.events('policy.changed')).at(-1)).toMatchObject({
      actor: 'act_admin',
      attrs: { version: '2', hash: policyHash(V2), previousHash: policyHash(guardedText) },
    });
    const again = await policy.load(V2, { by: 'act_admin' });
    expect(again.changed).toBe(false);
    expect((await audit.events('policy.changed')).length).toBe(2);
    const shown = await policy.show();
    expect(shown).toMatchObject({
      name: 'small',
      version: '2',
      text: V2,
      loadedBy: 'act_admin',
      timezone: 'Asia/Shanghai',
    });
  });

  it('a version names one text: reusing it for another text is refused and changes nothing', async () => {
    const other = V2.replace('name: masked', 'name: plain');
    expect(await code(policy.load(other, { by: null }))).toBe('POLICY_VERSION_REUSED');
    expect((await policy.active()).hash).toBe(policyHash(V2));
    expect((await policy.versions()).length).toBe(2);
  });

  it('an invalid text is refused with paths, and changes nothing', async () => {
    try {
      await policy.load(V2.replace('masked', 'visible'), { by: null });
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e) && e.code).toBe('POLICY_INVALID');
      expect((e as { details: { issues: { path: string }[] } }).details.issues[0]!.path).toBe(
        'grants[0].fields.name',
      );
    }
    expect((await policy.versions()).length).toBe(2);
  });

  it('rolling back to an earlier text appends it again under its own version', async () => {
    const r = await policy.load(guardedText, { by: null });
    expect(r.changed).toBe(true);
    const vs = await policy.versions();
    expect(vs.map((v) => v.seq)).toEqual([1, 2, 3]);
    expect(vs[2]!.version).toBe(vs[0]!.version);
  });

  it('another process sees a replaced policy once its cache is stale', async () => {
    const other = createPolicyService({ db: d.db, dialect, clock, record: audit.record, refreshMs: 1000 });
    expect((await other.init()).name).toBe('guarded');
    await policy.load(V2.replace('version: "2"', 'version: "3"'), { by: null });
    expect((await other.active()).name).toBe('guarded');
    clock.advance(1001);
    expect((await other.active()).version).toBe('3');
    expect(other.current()?.version).toBe('3');
  });

  it('if the ledger refuses policy.changed, the policy does not change', async () => {
    const failing = createPolicyService({
      db: d.db,
      dialect,
      clock,
      record: (await tableRecorder(d.db, { failOn: 'policy.changed' })).record,
    });
    await failing.init();
    const before = await failing.versions();
    await expect(failing.load(V2.replace('version: "2"', 'version: "4"'), { by: null })).rejects.toThrow(
      /refused/,
    );
    expect(await failing.versions()).toEqual(before);
    expect(failing.current()?.version).toBe('3');
  });

  it('init() with a configured policy file uses it; an unreadable file is a clear error', async () => {
    const fresh = await createTestDatabase(dialect);
    try {
      const missing = createPolicyService({
        db: fresh.db,
        dialect,
        clock,
        record: memoryRecorder().record,
        policyFile: '/nonexistent/policy.yaml',
      });
      expect(await code(missing.init())).toBe('POLICY_FILE_UNREADABLE');
      const lax = createPolicyService({
        db: fresh.db,
        dialect,
        clock,
        record: memoryRecorder().record,
        policyFile: defaultPolicyFile().replace('default.yaml', 'lax.yaml'),
      });
      expect((await lax.init()).name).toBe('lax');
    } finally {
      await fresh.destroy();
    }
  });
});
