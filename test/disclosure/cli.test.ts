import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'csv-parse/sync';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT } from '../../src/lib/cli/index.js';
import { registerDisclosureCommands, verifyDeletionNotice } from '../../src/modules/disclosure/index.js';
import { cliContext, partnerNotice } from '../consent/fixtures.js';
import { describeEachDialect } from '../helpers/db.js';
import { disclosureSetup } from './fixtures.js';

describeEachDialect('disclosure CLI', (dialect) => {
  let s: Awaited<ReturnType<typeof disclosureSetup>>;
  let dir: string;
  let ids: string[];
  let officer: string;
  let partner: string;

  beforeAll(async () => {
    s = await disclosureSetup(dialect);
    dir = mkdtempSync(join(tmpdir(), 'custodian-export-cli-'));
    ({ ids } = await s.customers(5));
    // Real actors: the releasing officer (its roles decide) and the distributor's own actor.
    officer = (
      await s.actors.create({ name: 'dpo.cli', kind: 'employee', roles: ['privacy_officer'] }, { by: null })
    ).actor.id;
    partner = (
      await s.actors.create({ name: 'partner.cli', kind: 'partner', roles: ['partner'] }, { by: null })
    ).actor.id;
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await s.d.destroy();
  });

  async function run(args: string[]) {
    const c = cliContext({ disclosure: s.disclosure, actors: s.actors });
    const program = c.program();
    registerDisclosureCommands(program, c.ctx);
    process.exitCode = undefined;
    await program.parseAsync(['node', 'custodian', ...args, '--json']);
    const exit = typeof process.exitCode === 'number' ? process.exitCode : undefined;
    process.exitCode = undefined;
    return { json: JSON.parse(c.stdout()), exit };
  }

  it('recipients add, update, list', async () => {
    const added = await run([
      'recipients',
      'add',
      '--name',
      'CLI Distribution Ltd.',
      '--contact',
      'dpo@cli-dist.example',
      '--jurisdiction',
      'CN',
      '--purposes',
      'partner_referral',
      '--contract',
      'DPA-1',
      '--retention-days',
      '30',
    ]);
    expect(added.json.status).toBe('pending');
    const updated = await run([
      'recipients',
      'update',
      added.json.id,
      '--pia',
      'PIA-1',
      '--partner-actor',
      partner,
    ]);
    expect(updated.json.status).toBe('enabled');
    const listed = await run(['recipients', 'list']);
    expect(listed.json.recipients.map((r: { id: string }) => r.id)).toEqual([added.json.id]);
  });

  it('export: refused with the missing ids written out; then the consented export, fetched by the recipient to a 0600 file', async () => {
    const [rcp] = await s.disclosure.listRecipients();
    const n = await s.consent.publishNotice(partnerNotice(rcp!), null);
    for (const id of ids.slice(0, 4))
      await s.consent.grant(
        {
          subjectId: id,
          purpose: 'partner_referral',
          recipientId: rcp!.id,
          fields: ['name', 'mobile', 'company'],
          noticeId: n.id,
          method: 'paper',
          separate: { thirdParty: true },
        },
        null,
      );
    s.clock.advance(1000);
    const subjects = join(dir, 'subjects.txt');
    writeFileSync(subjects, `subject_id\n${ids.join('\n')}\n`);
    const out = join(dir, 'export.csv');
    const missing = join(dir, 'missing.txt');
    const base = [
      'export',
      '--recipient',
      rcp!.id,
      '--purpose',
      'partner_referral',
      '--subjects',
      subjects,
      '--fields',
      'name,mobile',
      '--format',
      'csv',
      '--actor',
      officer,
    ];
    const refused = await run([...base, '--missing-out', missing]);
    expect(refused.exit).toBe(EXIT.failure);
    expect(refused.json.error).toMatchObject({ code: 'DISCLOSURE_CONSENT_MISSING', details: { missing: 1 } });
    expect(readFileSync(missing, 'utf8').trim()).toBe(ids[4]);
    expect(() => statSync(out)).toThrow();

    const ok = await run([...base, '--consented-only']);
    expect(ok.exit).toBeUndefined();
    // The employee gets the record, not the file.
    expect(ok.json).toEqual({ disclosure: expect.objectContaining({ subjects: 4, excluded: 1 }) });
    expect(ok.json.disclosure.status).toBe('awaiting_pickup');
    expect(() => statSync(out)).toThrow();
    // Only the recipient's own actor fetches it.
    await expect(
      run(['delivery', 'fetch', ok.json.disclosure.id, '--actor', officer, '--out', out]),
    ).rejects.toMatchObject({
      code: 'DISCLOSURE_NOT_FOUND',
    });
    const got = await run(['delivery', 'fetch', ok.json.disclosure.id, '--actor', partner, '--out', out]);
    expect(got.json.disclosure.status).toBe('delivered');
    expect(statSync(out).mode & 0o777).toBe(0o600);
    const rows = parse(readFileSync(out, 'utf8'), { columns: true });
    expect(rows).toHaveLength(4 + ok.json.disclosure.canaries);

    const all = await run([
      'export',
      '--recipient',
      rcp!.id,
      '--purpose',
      'partner_referral',
      '--all-consented',
      '--fields',
      'name',
      '--format',
      'json',
      '--actor',
      officer,
    ]);
    expect(all.json.disclosure.subjects).toBe(4);
  });

  it('recipients notices --out writes signed notices for hand delivery', async () => {
    await s.consent.withdraw(
      { subjectId: ids[0]!, purpose: 'partner_referral' },
      { by: null, method: 'paper' },
    );
    const outDir = join(dir, 'notices');
    const r = await run(['recipients', 'notices', '--out', outDir]);
    expect(r.json).toEqual({ delivered: 1, failed: 0 });
    const [rcpDir] = readdirSync(outDir);
    const [file] = readdirSync(join(outDir, rcpDir!));
    const n = JSON.parse(readFileSync(join(outDir, rcpDir!, file!), 'utf8'));
    expect(verifyDeletionNotice(n.body, n.signature, s.keyring.publicKeyRaw.toString('base64'))).toBe(true);
  });
});
