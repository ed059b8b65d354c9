import { readFileSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, EXIT, table } from '../../lib/cli/index.js';
import { commonError } from '../../lib/errors.js';
import type { Consent, ConsentMethod, ConsentRecord } from './consent.service.js';
import { verifyReceipt } from './receipt.js';

/**
 * `custodian consent grant|withdraw|list|import|receipt|verify` and `custodian consent notice
 * publish|list`. `--actor` names who records the change in the ledger (default: the operator,
 * recorded as the system).
 */
const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

function row(c: ConsentRecord): (string | number)[] {
  const sep = [
    c.separate.thirdParty && 'third-party',
    c.separate.sensitive && 'sensitive',
    c.separate.crossBorder && 'cross-border',
  ]
    .filter(Boolean)
    .join('+');
  return [
    c.id,
    c.subjectId,
    c.purpose,
    c.recipientId ?? '-',
    c.fields.join(','),
    sep || '-',
    c.givenAt,
    c.withdrawnAt ?? (c.expiresAt ? `expires ${c.expiresAt}` : 'active'),
  ];
}

const HEADER = ['id', 'subject', 'purpose', 'recipient', 'fields', 'separate', 'given', 'state'];

export function registerConsentCommands(program: Command, ctx: CommandContext<{ consent: Consent }>): void {
  const consent = program.command('consent').description('consent records, notices and receipts');

  consent
    .command('grant')
    .description('record a consent and print its signed receipt')
    .requiredOption('--subject <id>', 'subject id')
    .requiredOption('--purpose <name>', 'purpose')
    .option('--recipient <id>', 'third-party recipient (PIPL art. 23)')
    .requiredOption('--fields <list>', 'fields covered, comma-separated')
    .requiredOption('--notice <ref>', 'notice shown: id or key@version')
    .requiredOption('--method <method>', 'web | app | phone | paper')
    .option('--given-at <time>', 'ISO-8601 time consent was given (default now)')
    .option('--expires <time>', 'ISO-8601 expiry')
    .option('--guardian', 'given by a guardian (PIPL art. 31: under 14)')
    .option('--third-party', 'separate consent to provision to the recipient (art. 23)')
    .option('--sensitive', 'separate consent to processing of sensitive PI (art. 29)')
    .option('--cross-border', 'separate consent to a transfer abroad (art. 39)')
    .option('--evidence <ref>', 'reference to the evidence (form id, recording id)')
    .option('--receipt-out <file>', 'write the signed receipt to this file')
    .option('--actor <id>', 'actor recording the consent')
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const r = await app.consent.grant(
          {
            subjectId: String(o.subject),
            purpose: String(o.purpose),
            recipientId: (o.recipient as string | undefined) ?? null,
            fields: list(o.fields as string),
            noticeId: String(o.notice),
            method: o.method as ConsentMethod,
            givenBy: o.guardian ? 'guardian' : 'subject',
            ...(o.givenAt ? { givenAt: String(o.givenAt) } : {}),
            ...(o.expires ? { expiresAt: String(o.expires) } : {}),
            separate: {
              thirdParty: Boolean(o.thirdParty),
              sensitive: Boolean(o.sensitive),
              crossBorder: Boolean(o.crossBorder),
            },
            ...(o.evidence ? { evidenceRef: String(o.evidence) } : {}),
          },
          (o.actor as string | undefined) ?? null,
          { source: 'cli' },
        );
        if (o.receiptOut) writeFileSync(String(o.receiptOut), `${JSON.stringify(r.receipt, null, 2)}\n`);
        out.result(
          `recorded consent ${r.consent.id}${o.receiptOut ? ` (receipt in ${o.receiptOut})` : ''}`,
          r,
        );
      } finally {
        await app.close();
      }
    });

  consent
    .command('withdraw')
    .description('withdraw consent: --id, or --subject and --purpose [--recipient]')
    .option('--id <consentId>', 'one consent record')
    .option('--subject <id>', 'subject id')
    .option('--purpose <name>', 'purpose (without --recipient: every record for it)')
    .option('--recipient <id>', 'only the consent for this recipient')
    .requiredOption('--method <method>', 'web | app | phone | paper')
    .option('--actor <id>', 'actor recording the withdrawal')
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      if (!o.id && !(o.subject && o.purpose))
        throw commonError('VALIDATION_FAILED', { message: 'Give --id, or --subject and --purpose.' });
      const app = await ctx.open(cmd);
      try {
        const input = o.id
          ? { consentId: o.id }
          : {
              subjectId: o.subject!,
              purpose: o.purpose!,
              ...(o.recipient ? { recipientId: o.recipient } : {}),
            };
        const withdrawn = await app.consent.withdraw(input, {
          by: o.actor ?? null,
          method: o.method as ConsentMethod,
        });
        out.result(`withdrew ${withdrawn.length} consent record(s)`, { withdrawn });
      } finally {
        await app.close();
      }
    });

  consent
    .command('list')
    .description("a subject's consent records, or those for a purpose [and recipient]")
    .option('--subject <id>', 'subject id')
    .option('--purpose <name>', 'purpose')
    .option('--recipient <id>', 'recipient')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      if (!o.subject && !o.purpose)
        throw commonError('VALIDATION_FAILED', { message: 'Give --subject or --purpose.' });
      const app = await ctx.open(cmd);
      try {
        const consents = await app.consent.list({
          ...(o.subject ? { subjectId: o.subject } : {}),
          ...(o.purpose ? { purpose: o.purpose } : {}),
          ...(o.recipient ? { recipientId: o.recipient } : {}),
          limit: Number(o.limit),
        });
        out.result(consents.length ? table(consents.map(row), HEADER) : 'no consent records', { consents });
      } finally {
        await app.close();
      }
    });

  consent
    .command('import <file>')
    .description('import existing consents from CSV with their evidence (exit 3 when rows were rejected)')
    .option('--actor <id>', 'actor recording the import')
    .action(async (file: string, o: { actor?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const text = readFileSync(file, 'utf8');
      const app = await ctx.open(cmd);
      try {
        const r = await app.consent.importCsv(text, o.actor ?? null);
        const lines = [
          `import ${r.importId}: ${r.imported} imported, ${r.duplicates} already present, ${r.rejected} rejected`,
          ...r.rows
            .filter((x) => x.status === 'rejected')
            .slice(0, 50)
            .map(
              (x) =>
                `  line ${x.line}: ${'code' in x ? x.code : ''}${'field' in x && x.field ? ` (${x.field})` : ''}`,
            ),
        ];
        out.result(lines.join('\n'), r);
        if (r.rejected > 0) process.exitCode = EXIT.partial;
      } finally {
        await app.close();
      }
    });

  consent
    .command('receipt <consentId>')
    .description('print (or write) a freshly signed receipt of a consent record')
    .option('--out <file>', 'write it to this file')
    .action(async (id: string, o: { out?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const receipt = await app.consent.receipt(id);
        const text = `${JSON.stringify(receipt, null, 2)}\n`;
        if (o.out) {
          writeFileSync(o.out, text);
          out.result(`receipt written to ${o.out}`, receipt);
        } else out.result(text, receipt);
      } finally {
        await app.close();
      }
    });

  consent
    .command('verify <file>')
    .description("check a receipt's signature (against --public-key, or this deployment's key)")
    .option('--public-key <base64>', 'raw Ed25519 public key to trust, base64')
    .action(async (file: string, o: { publicKey?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const signed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
      let valid: boolean;
      if (o.publicKey) valid = verifyReceipt(signed, o.publicKey);
      else {
        const app = await ctx.open(cmd);
        try {
          valid = app.consent.verifyReceipt(signed);
        } finally {
          await app.close();
        }
      }
      out.result(valid ? 'receipt is valid' : 'receipt is NOT valid', { valid });
      if (!valid) process.exitCode = EXIT.failure;
    });

  const notice = consent.command('notice').description('versioned notices (PIPL art. 17, 23, 39)');
  notice
    .command('publish <file>')
    .description('publish the next version of a notice from a JSON file {key, language, text, declarations}')
    .option('--actor <id>', 'actor publishing it')
    .action(async (file: string, o: { actor?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const input = JSON.parse(readFileSync(file, 'utf8')) as Parameters<Consent['publishNotice']>[0];
      const app = await ctx.open(cmd);
      try {
        const n = await app.consent.publishNotice(input, o.actor ?? null);
        out.result(`published ${n.key}@${n.version} (${n.id}) sha256 ${n.sha256}`, n);
      } finally {
        await app.close();
      }
    });
  notice
    .command('list')
    .description('notices, newest version first')
    .option('--key <key>', 'only this notice')
    .action(async (o: { key?: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const notices = await app.consent.listNotices(o.key);
        out.result(
          table(
            notices.map((n) => [
              n.id,
              `${n.key}@${n.version}`,
              n.recipientId ?? '-',
              n.sha256.slice(0, 16),
              n.publishedAt,
            ]),
            ['id', 'notice', 'recipient', 'sha256', 'published'],
          ),
          { notices },
        );
      } finally {
        await app.close();
      }
    });
}
