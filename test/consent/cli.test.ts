import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { EXIT } from '../../src/lib/cli/index.js';
import { registerConsentCommands } from '../../src/modules/consent/index.js';
import { describeEachDialect } from '../helpers/db.js';
import { cliContext, consentSetup, partnerNotice } from './fixtures.js';

const RCP = { id: 'rcp_cli', name: 'CLI Partner Ltd.', contact: 'dpo@cli-partner.example' };

describeEachDialect('consent CLI', (dialect) => {
  let s: Awaited<ReturnType<typeof consentSetup>>;
  let dir: string;

  beforeAll(async () => {
    s = await consentSetup(dialect);
    dir = mkdtempSync(join(tmpdir(), 'custodian-consent-cli-'));
  });
  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await s.d.destroy();
  });

  async function run(args: string[]): Promise<{ out: string; json: any; exit: number | undefined }> {
    const c = cliContext({ consent: s.consent });
    const program = c.program();
    registerConsentCommands(program, c.ctx);
    process.exitCode = undefined;
    await program.parseAsync(['node', 'custodian', ...args, '--json']);
    const exit = typeof process.exitCode === 'number' ? process.exitCode : undefined;
    process.exitCode = undefined;
    return { out: c.stdout(), json: JSON.parse(c.stdout()), exit };
  }

  it('publishes a notice, grants, lists, issues and verifies a receipt, withdraws', async () => {
    const file = join(dir, 'notice.json');
    writeFileSync(file, JSON.stringify(partnerNotice(RCP)));
    const n = (await run(['consent', 'notice', 'publish', file])).json;
    expect(n.version).toBe(1);

    const receiptFile = join(dir, 'receipt.json');
    const g = await run([
      'consent',
      'grant',
      '--subject',
      'sub_c1',
      '--purpose',
      'partner_referral',
      '--recipient',
      RCP.id,
      '--fields',
      'name,mobile',
      '--notice',
      `${n.key}@1`,
      '--method',
      'phone',
      '--third-party',
      '--evidence',
      'call-rec-42',
      '--receipt-out',
      receiptFile,
      '--actor',
      'act_agent',
    ]);
    expect(g.json.consent).toMatchObject({
      source: 'cli',
      recordedBy: 'act_agent',
      evidenceRef: 'call-rec-42',
    });

    const verified = await run(['consent', 'verify', receiptFile]);
    expect([verified.json.valid, verified.exit]).toEqual([true, undefined]);
    const tampered = JSON.parse(readFileSync(receiptFile, 'utf8'));
    tampered.receipt.purpose = 'marketing';
    writeFileSync(receiptFile, JSON.stringify(tampered));
    const bad = await run([
      'consent',
      'verify',
      receiptFile,
      '--public-key',
      s.keyring.publicKeyRaw.toString('base64'),
    ]);
    expect([bad.json.valid, bad.exit]).toEqual([false, EXIT.failure]);

    const listed = await run(['consent', 'list', '--subject', 'sub_c1']);
    expect(listed.json.consents).toHaveLength(1);

    const w = await run([
      'consent',
      'withdraw',
      '--subject',
      'sub_c1',
      '--purpose',
      'partner_referral',
      '--method',
      'phone',
    ]);
    expect(w.json.withdrawn).toHaveLength(1);
  });

  it('imports a file and exits 3 when rows were rejected', async () => {
    const n = (await s.consent.listNotices(`referral-${RCP.id}`))[0]!;
    const file = join(dir, 'consents.csv');
    writeFileSync(
      file,
      [
        'subject_id,purpose,recipient_id,fields,notice,method,given_at,third_party',
        `sub_c2,partner_referral,${RCP.id},name,${n.id},web,2023-01-01T00:00:00Z,1`,
        `sub_c3,partner_referral,${RCP.id},name,${n.id},web,not-a-time,1`,
      ].join('\n'),
    );
    const r = await run(['consent', 'import', file]);
    expect(r.json).toMatchObject({ imported: 1, rejected: 1 });
    expect(r.exit).toBe(EXIT.partial);
  });
});
