import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { type CommandContext, EXIT, table } from '../../lib/cli/index.js';
import { commonError, isAppError } from '../../lib/errors.js';
import { fileSender, webhookSender } from './deletion.js';
import type { DisclosureService } from './disclosure.service.js';
import type { Recipient, RecipientPatch, TransferMechanism } from './recipients.js';

/**
 * `custodian export …`, `custodian delivery fetch …` and `custodian recipients
 * add|list|update|notices`. `export --actor` names the releasing actor: the policy's `disclose:`
 * grants decide for its roles, and the ledger names it. The export is created awaiting pick-up and
 * the command prints the record, never the data: the recipient's own actor fetches the file
 * (`GET /v1/disclosures/{id}/delivery`, or `delivery fetch --actor` on the operator's host).
 */
const list = (s: string | undefined) =>
  (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);

/** One subject id a line; blank lines, `#` comments and a `subject_id` header are skipped. */
export function readSubjectsFile(path: string): string[] {
  const out: string[] = [];
  for (const raw of readFileSync(path, 'utf8').split(/\r?\n/)) {
    const line = raw.split(',')[0]!.trim();
    if (!line || line.startsWith('#') || line === 'subject_id') continue;
    if (!/^[A-Za-z0-9_.:-]{1,128}$/.test(line))
      throw commonError('VALIDATION_FAILED', {
        message: 'The subjects file holds a line that is not a subject id.',
      });
    out.push(line);
  }
  return out;
}

function recipientRow(r: Recipient): (string | number)[] {
  return [
    r.id,
    r.name,
    r.jurisdiction,
    r.purposes.join(','),
    r.status,
    r.piaRef ? 'yes' : 'NO',
    r.transfer ? r.transfer.mechanism : '-',
    r.actorId ?? '-',
  ];
}

function transferFrom(o: Record<string, string | undefined>) {
  if (!o.transferMechanism) return undefined;
  return {
    mechanism: o.transferMechanism as TransferMechanism,
    ref: o.transferRef ?? '',
    ...(o.transferValidUntil ? { validUntil: o.transferValidUntil } : {}),
  };
}

/** The actor a command acts for: its roles decide (the actors module, wired by the CLI). */
export interface CommandActors {
  get(ref: string): Promise<{ id: string; roles: readonly string[]; status: string }>;
}

export function registerDisclosureCommands(
  program: Command,
  ctx: CommandContext<{ disclosure: DisclosureService; actors: CommandActors }>,
): void {
  async function activeActor(actors: CommandActors, ref: string) {
    const a = await actors.get(ref);
    if (a.status !== 'active')
      throw commonError('VALIDATION_FAILED', { message: 'The actor is not active.' });
    return { id: a.id, roles: a.roles };
  }

  program
    .command('export')
    .description(
      "disclose subjects to a recipient as a CSV or JSON file, fetched by the recipient's actor (refused without a disclose grant, or unless every subject consented)",
    )
    .requiredOption('--recipient <id>', 'recipient id')
    .requiredOption('--purpose <name>', 'purpose')
    .option('--subjects <file>', 'file of subject ids, one a line')
    .option('--all-consented', 'every subject with separate consent for this recipient and purpose')
    .requiredOption('--fields <list>', 'fields, comma-separated')
    .option('--format <format>', 'csv | json', 'csv')
    .option('--consented-only', 'disclose the consented subset instead of refusing the whole request')
    .requiredOption('--actor <id>', 'actor the export is made for')
    .option('--missing-out <file>', 'on refusal, write the ids lacking consent here')
    .action(async (o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      if (Boolean(o.subjects) === Boolean(o.allConsented))
        throw commonError('VALIDATION_FAILED', { message: 'Give --subjects FILE or --all-consented.' });
      if (o.format !== 'csv' && o.format !== 'json')
        throw commonError('VALIDATION_FAILED', { message: '--format must be csv or json.' });
      const subjectIds = o.subjects ? readSubjectsFile(String(o.subjects)) : undefined;
      const app = await ctx.open(cmd);
      try {
        const r = await app.disclosure.create(
          {
            recipientId: String(o.recipient),
            purpose: String(o.purpose),
            fields: list(o.fields as string),
            ...(subjectIds ? { subjectIds } : { allConsented: true }),
            consentedOnly: Boolean(o.consentedOnly),
            format: o.format,
          },
          await activeActor(app.actors, String(o.actor)),
        );
        const d = r.disclosure;
        out.result(
          [
            `disclosure ${d.id}: ${d.subjects} subject(s) to ${d.recipientId} for ${d.purpose}, awaiting pick-up`,
            d.excluded ? `  left out for lack of consent: ${d.excluded}` : '',
            `  the recipient's actor fetches it: GET /v1/disclosures/${d.id}/delivery`,
          ]
            .filter(Boolean)
            .join('\n'),
          { disclosure: d },
        );
      } catch (e) {
        if (isAppError(e) && e.code === 'DISCLOSURE_CONSENT_MISSING') {
          const details = e.details as {
            requested: number;
            missing: number;
            subjectIds: string[];
            truncated: boolean;
          };
          if (o.missingOut) writeFileSync(String(o.missingOut), `${details.subjectIds.join('\n')}\n`);
          out.result(
            [
              `refused: ${details.missing} of ${details.requested} subject(s) lack separate consent for this recipient and purpose`,
              ...details.subjectIds.slice(0, 20).map((s) => `  ${s}`),
              details.missing > 20
                ? `  … (${o.missingOut ? `all in ${o.missingOut}` : 'use --missing-out FILE'})`
                : '',
              'nothing was disclosed; use --consented-only to disclose the consented subset',
            ]
              .filter(Boolean)
              .join('\n'),
            { error: { code: e.code, message: e.message, details } },
          );
          process.exitCode = EXIT.failure;
          return;
        }
        throw e;
      } finally {
        await app.close();
      }
    });

  program
    .command('delivery')
    .description("deliveries to a recipient, fetched by the recipient's own actor")
    .command('fetch <disclosure>')
    .description(
      "fetch a delivery as the recipient's actor (once): decrypted now, consent re-checked, written mode 0600",
    )
    .requiredOption('--actor <id>', "the recipient's own actor")
    .requiredOption('--out <file>', 'where to write the file (mode 0600)')
    .action(async (id: string, o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const actor = await activeActor(app.actors, String(o.actor));
        const r = await app.disclosure.deliver(id, actor.id);
        const file = String(o.out);
        const tmp = `${file}.${process.pid}.tmp`;
        writeFileSync(tmp, r.content, { mode: 0o600 });
        renameSync(tmp, file);
        const d = r.disclosure;
        out.result(
          [
            `delivery ${d.id}: ${d.subjects - d.withheld} subject(s) for ${d.purpose} → ${file}`,
            d.withheld ? `  withheld at the fetch (consent withdrawn since): ${d.withheld}` : '',
            `  sha256 ${d.contentSha256}`,
          ]
            .filter(Boolean)
            .join('\n'),
          { disclosure: d, file },
        );
      } finally {
        await app.close();
      }
    });

  const recipients = program.command('recipients').description('third-party recipients of disclosures');

  recipients
    .command('add')
    .description('register a recipient (enabled only with --pia, PIPL art. 55)')
    .requiredOption('--name <name>', 'legal name')
    .requiredOption('--contact <contact>', 'business contact (office, e-mail or phone of the company)')
    .requiredOption('--jurisdiction <cc>', 'ISO 3166-1 alpha-2 country code')
    .requiredOption('--purposes <list>', 'purposes agreed, comma-separated')
    .requiredOption('--contract <ref>', 'contract reference')
    .requiredOption('--retention-days <n>', 'retention the recipient promised')
    .option('--pia <ref>', 'impact assessment reference')
    .option('--transfer-mechanism <m>', 'standard_contract | certification | cac_assessment')
    .option('--transfer-ref <ref>', 'reference of the filing or assessment')
    .option('--transfer-valid-until <time>', 'ISO-8601 end of validity')
    .option('--partner-actor <id>', "the partner's own actor (API key)")
    .option('--webhook <url>', 'where deletion notices are posted')
    .option('--actor <id>', 'actor registering it')
    .action(async (o: Record<string, string | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const transfer = transferFrom(o);
        const r = await app.disclosure.addRecipient(
          {
            name: o.name!,
            contact: o.contact!,
            jurisdiction: o.jurisdiction!,
            purposes: list(o.purposes),
            contractRef: o.contract!,
            retentionDays: Number(o.retentionDays),
            ...(o.pia ? { piaRef: o.pia } : {}),
            ...(transfer ? { transfer } : {}),
            ...(o.partnerActor ? { actorId: o.partnerActor } : {}),
            ...(o.webhook ? { webhookUrl: o.webhook } : {}),
          },
          o.actor ?? null,
        );
        out.result(
          `recipient ${r.id} (${r.name}): ${r.status}${r.piaRef ? '' : ' — record an impact assessment to enable it'}`,
          r,
        );
      } finally {
        await app.close();
      }
    });

  recipients
    .command('update <id>')
    .description('record an assessment or transfer mechanism; enable or disable')
    .option('--pia <ref>', 'impact assessment reference')
    .option('--transfer-mechanism <m>', 'standard_contract | certification | cac_assessment')
    .option('--transfer-ref <ref>', 'reference of the filing or assessment')
    .option('--transfer-valid-until <time>', 'ISO-8601 end of validity')
    .option('--purposes <list>', 'purposes agreed, comma-separated')
    .option('--partner-actor <id>', "the partner's own actor")
    .option('--webhook <url>', 'where deletion notices are posted')
    .option('--enable', 'enable (needs an impact assessment)')
    .option('--disable', 'disable')
    .option('--actor <id>', 'actor making the change')
    .action(async (id: string, o: Record<string, string | boolean | undefined>, cmd: Command) => {
      const out = ctx.output(cmd);
      const s = o as Record<string, string | undefined>;
      const transfer = transferFrom(s);
      const patch: RecipientPatch = {
        ...(s.pia ? { piaRef: s.pia } : {}),
        ...(transfer ? { transfer } : {}),
        ...(s.purposes ? { purposes: list(s.purposes) } : {}),
        ...(s.partnerActor ? { actorId: s.partnerActor } : {}),
        ...(s.webhook ? { webhookUrl: s.webhook } : {}),
        ...(o.enable ? { status: 'enabled' as const } : o.disable ? { status: 'disabled' as const } : {}),
      };
      const app = await ctx.open(cmd);
      try {
        const r = await app.disclosure.updateRecipient(id, patch, s.actor ?? null);
        out.result(`recipient ${r.id} (${r.name}): ${r.status}`, r);
      } finally {
        await app.close();
      }
    });

  recipients
    .command('list')
    .description('recipients and whether they may receive data')
    .action(async (_o, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const rs = await app.disclosure.listRecipients();
        out.result(
          rs.length
            ? table(rs.map(recipientRow), [
                'id',
                'name',
                'cc',
                'purposes',
                'status',
                'pia',
                'transfer',
                'actor',
              ])
            : 'no recipients',
          { recipients: rs },
        );
      } finally {
        await app.close();
      }
    });

  recipients
    .command('notices')
    .description('deliver pending deletion notices: to each webhook, or as files under --out DIR')
    .option('--out <dir>', 'write notices as files instead of posting them')
    .option('--limit <n>', 'at most this many', '100')
    .action(async (o: { out?: string; limit: string }, cmd: Command) => {
      const out = ctx.output(cmd);
      const app = await ctx.open(cmd);
      try {
        const r = await app.disclosure.deliverDeletionNotices(o.out ? fileSender(o.out) : webhookSender(), {
          limit: Number(o.limit),
        });
        out.result(`deletion notices: ${r.delivered} delivered, ${r.failed} failed (retried next run)`, r);
        if (r.failed > 0) process.exitCode = EXIT.partial;
      } finally {
        await app.close();
      }
    });
}
