import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, afterEach, beforeAll, expect, it } from 'vitest';
import { fixedClock } from '../../src/lib/clock.js';
import { type Actors, createActors, registerActorsCommands } from '../../src/modules/actors/index.js';
import { createTestDatabase, describeEachDialect, type TestDatabase } from '../helpers/db.js';
import { memoryRecorder } from '../helpers/recorder.js';
import { commandContext } from './support.js';

describeEachDialect('actors CLI', (dialect) => {
  let d: TestDatabase;
  let actors: Actors;
  let dir: string;
  const clock = fixedClock('2025-03-10T02:00:00Z');

  function run(...args: string[]) {
    const { ctx, printed } = commandContext({ actors });
    const program = new Command('custodian').option('--json', 'JSON output').exitOverride();
    registerActorsCommands(program, ctx);
    return program.parseAsync(['node', 'custodian', ...args]).then(() => printed);
  }

  beforeAll(async () => {
    d = await createTestDatabase(dialect);
    actors = createActors({ db: d.db, dialect, clock, record: memoryRecorder().record });
    dir = mkdtempSync(join(tmpdir(), 'custodian-actors-cli-'));
  });
  afterEach(() => {
    process.exitCode = undefined;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await d?.destroy();
  });

  it('actors add prints the key once; it works', async () => {
    const out = await run(
      'actors',
      'add',
      'emp-7',
      '--role',
      'support',
      '--role',
      'approver',
      '--attr',
      'region=east',
    );
    const text = out.human.join('\n');
    expect(text).toMatch(
      /created act_\S+ {2}emp-7 {2}employee {2}active {2}roles: approver,support {2}region=east/,
    );
    const key = /API key \(shown once; store it now\): (ctk_\S+)/.exec(text)?.[1];
    expect((await actors.authenticate(key!))?.roles).toEqual(['approver', 'support']);
  });

  it('--json gives one document', async () => {
    const out = await run(
      '--json',
      'actors',
      'add',
      'svc-1',
      '--kind',
      'service',
      '--role',
      'contact_service',
    );
    expect(out.human).toEqual([]);
    expect(out.json[0]).toMatchObject({
      actor: { name: 'svc-1', kind: 'service' },
      apiKey: expect.stringMatching(/^ctk_/),
    });
    const list = await run('actors', 'list', '--json', '--kind', 'service');
    expect((list.json[0] as { actors: { name: string }[] }).actors.map((a) => a.name)).toEqual(['svc-1']);
  });

  it('rotate-key and disable', async () => {
    const rot = await run('actors', 'rotate-key', 'emp-7', '--grace', '30');
    expect(rot.human[0]).toMatch(
      /new API key .*: ctk_\S+\nold keys \(1\) expire at 2025-03-10T02:00:30.000Z/,
    );
    const dis = await run('actors', 'disable', 'emp-7');
    expect(dis.human[0]).toMatch(/^disabled act_\S+ {2}emp-7 .* disabled/);
    await expect(run('actors', 'disable', 'nobody')).rejects.toMatchObject({ code: 'ACTORS_NOT_FOUND' });
    await expect(run('actors', 'add', 'x', '--attr', 'novalue')).rejects.toMatchObject({
      code: 'VALIDATION_FAILED',
    });
  });

  it('assign FILE.csv applies good rows, lists bad ones by line, exits 3', async () => {
    await actors.create({ name: 'tm-1', kind: 'employee', roles: ['telemarketing'] }, { by: null });
    const file = join(dir, 'portfolio.csv');
    writeFileSync(file, 'actor,subject\ntm-1,sub_a\ntm-1,sub_b\nghost,sub_c\n');
    const out = await run('actors', 'assign', file);
    expect(out.human[0]).toBe('assigned 2; rejected 1\n  line 4: UNKNOWN_ACTOR');
    expect(process.exitCode).toBe(3);
    process.exitCode = undefined;
    const tm = await actors.get('tm-1');
    expect(await actors.isAssigned(tm.id, 'sub_b', clock.now())).toBe(true);

    writeFileSync(file, 'actor,subject\ntm-1,sub_b\n');
    const un = await run('actors', 'unassign', file, '--json');
    expect(un.json[0]).toEqual({ removed: 1, rejected: [] });
    expect(process.exitCode).toBeUndefined();
    expect(await actors.isAssigned(tm.id, 'sub_b', clock.now())).toBe(false);

    writeFileSync(file, 'who,what\nx,y\n');
    await expect(run('actors', 'assign', file)).rejects.toMatchObject({ code: 'ACTORS_CSV_INVALID' });
  });
});
