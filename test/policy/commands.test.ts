import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, expect, it, vi } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import {
  createPolicyService,
  defaultPolicyFile,
  type PolicyService,
  registerPolicyCommands,
} from '../../src/modules/policy/index.js';
import { commandContext } from '../actors/support.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';

describeEachDialect('policy CLI', (dialect) => {
  let d: TestDatabase;
  let policy: PolicyService;
  let dir: string;
  const clock = fixedClock('2025-03-10T02:00:00Z');
  const laxFile = defaultPolicyFile().replace('default.yaml', 'lax.yaml');

  function run(...args: string[]) {
    const { ctx, printed } = commandContext({ policy });
    const program = new Command('custodian').option('--json', 'JSON output').exitOverride();
    registerPolicyCommands(program, ctx);
    return program.parseAsync(['node', 'custodian', ...args]).then(() => printed);
  }

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    policy = createPolicyService({ db: d.db, dialect, clock, record: memoryRecorder().record });
    dir = mkdtempSync(join(tmpdir(), 'custodian-policy-cli-'));
  });
  afterEach(() => {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await d?.destroy();
  });

  it('policy load FILE activates it; loading it again changes nothing', async () => {
    const out = await run('policy', 'load', defaultPolicyFile());
    expect(out.human[0]).toMatch(/^loaded policy guarded version 2025\.1 \(sha256 [0-9a-f]{64}\)$/);
    const again = await run('policy', 'load', defaultPolicyFile());
    expect(again.human[0]).toBe('policy guarded version 2025.1 is already active; nothing changed');
    const lax = await run('policy', 'load', laxFile, '--json');
    expect(lax.json[0]).toMatchObject({ changed: true, name: 'lax', previous: { version: '2025.1' } });
  });

  it('an invalid file is reported line by line, exit 1, and not loaded', async () => {
    const file = join(dir, 'bad.yaml');
    writeFileSync(
      file,
      readFileSync(defaultPolicyFile(), 'utf8')
        .replace('daily: 200', 'daily: lots')
        .replace('assignment: true', 'assigment: true'),
    );
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run('policy', 'load', file);
    expect(process.exitCode).toBe(1);
    const text = stderr.mock.calls.map((c) => String(c[0])).join('');
    expect(text).toMatch(/The policy is not valid\./);
    expect(text).toMatch(/line \d+: grants\[0\]\.assigment: unknown key: assigment/);
    expect(text).toMatch(/line \d+: grants\[0\]\.quota\.daily: /);
    expect((await policy.show()).name).toBe('lax');

    process.exitCode = undefined;
    const json = await run('policy', 'check', file, '--json');
    expect(process.exitCode).toBe(1);
    expect(json.json[0]).toMatchObject({ error: { code: 'POLICY_INVALID', issues: expect.any(Array) } });
  });

  it('policy check validates without loading', async () => {
    const out = await run('policy', 'check', defaultPolicyFile());
    expect(out.human[0]).toBe('policy guarded version 2025.1 is valid: 8 purposes, 8 grants');
    expect((await policy.show()).name).toBe('lax');
  });

  it('policy show, history and review', async () => {
    const show = await run('policy', 'show');
    expect(show.human[0]).toMatch(
      /^policy lax version legacy-1\nsha256 [0-9a-f]{64}\ntimezone Asia\/Shanghai\nloaded 2025-03-10T02:00:00.000Z$/,
    );
    expect((await run('policy', 'show', '--text')).human[0]).toBe(readFileSync(laxFile, 'utf8'));
    const history = await run('policy', 'history');
    expect(history.human[0]!.split('\n')).toHaveLength(2);
    const review = await run('policy', 'review');
    expect(review.human[0]).toMatch(/Access review of policy lax legacy-1 \(2025-02-09 \.\. 2025-03-10\)/);
    expect(review.human[0]).toMatch(
      /role telemarketing\n {2}telemarketing \(consent, optional\): any subject\n {4}company +plain +UNUSED/,
    );
    expect(review.human[0]).toMatch(/CONSENT_NOT_CHECKED {2}telemarketing \/ telemarketing/);
    const json = await run('policy', 'review', '--days', '7', '--json');
    expect(json.json[0]).toMatchObject({ since: '2025-03-04', until: '2025-03-10' });
    vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    await run('policy', 'review', '--days', 'x');
    expect(process.exitCode).toBe(2);
  });
});
