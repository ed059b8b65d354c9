import type { Writable } from 'node:stream';
import { PassThrough } from 'node:stream';
import { Command } from 'commander';
import type { DialectName } from '../../src/db/index.js';
import type { CommandContext, Opened } from '../../src/lib/cli/index.js';
import { createOutput } from '../../src/lib/cli/index.js';
import { fixedClock } from '../../src/lib/clock.js';
import { generateKeyFile, type Keyring, keyringFromFile } from '../../src/lib/crypto/index.js';
import { createLogger } from '../../src/lib/log.js';
import { createActors } from '../../src/modules/actors/index.js';
import { createConsent, type NoticeInput } from '../../src/modules/consent/index.js';
import { createLedger, type LedgerEvent } from '../../src/modules/ledger/index.js';
import { createTestDatabase, type TestDatabase } from '../helpers/db.js';

/** Shared set-up for the consent and disclosure tests: a real database, ledger, actors and keys. */
export const PROCESSOR = { name: 'Hangzhou Example Cloud Co., Ltd.', contact: 'privacy@example-cloud.cn' };

export function generalNotice(over: Partial<NoticeInput> = {}): NoticeInput {
  const text =
    `${PROCESSOR.name} (contact: ${PROCESSOR.contact}) processes your name, mobile number, e-mail and company ` +
    'to provide the service and, if you agree, for marketing. Kept 3 years after the account closes. ' +
    'Exercise your rights at the privacy portal.';
  return {
    key: 'privacy',
    language: 'en',
    text,
    declarations: {
      processor: PROCESSOR,
      purposes: [
        { purpose: 'service', necessary: true },
        { purpose: 'marketing', necessary: false },
      ],
      methods: ['collection', 'storage', 'use'],
      categories: ['identity', 'contact', 'organisation'],
      fields: ['name', 'mobile', 'email', 'company', 'id_number'],
      retention: '3 years after the account closes',
      rights: 'privacy portal, or write to the contact above',
    },
    ...over,
  };
}

export function partnerNotice(
  recipient: { id: string; name: string; contact: string },
  opts: { crossBorder?: string; key?: string; fields?: string[] } = {},
): NoticeInput {
  const fields = opts.fields ?? ['name', 'mobile', 'company'];
  const text =
    `${PROCESSOR.name} (contact: ${PROCESSOR.contact}) will provide your ${fields.join(', ')} to ` +
    `${recipient.name} (contact: ${recipient.contact}) for its referral programme, by secure file transfer. ` +
    `${recipient.name} keeps them 90 days. Exercise your rights at the privacy portal or with ${recipient.name}.`;
  return {
    key: opts.key ?? `referral-${recipient.id}`,
    language: 'en',
    text,
    declarations: {
      processor: PROCESSOR,
      purposes: [{ purpose: 'partner_referral', necessary: false }],
      methods: ['provision by file transfer'],
      categories: ['identity', 'contact', 'organisation'],
      fields,
      retention: '90 days at the recipient',
      rights: 'privacy portal, or the recipient',
      thirdParty: {
        recipientId: recipient.id,
        name: recipient.name,
        contact: recipient.contact,
        purposes: ['partner_referral'],
        methods: ['provision by file transfer'],
        categories: ['identity', 'contact', 'organisation'],
        fields,
      },
      ...(opts.crossBorder
        ? { crossBorder: { jurisdiction: opts.crossBorder, rights: 'write to the recipient at its contact' } }
        : {}),
    },
  };
}

export function testKeyring(): Keyring {
  return keyringFromFile(generateKeyFile());
}

export async function baseSetup(dialect: DialectName, start = '2024-03-01T08:00:00.000Z') {
  const d: TestDatabase = await createTestDatabase(dialect);
  const clock = fixedClock(start);
  const keyring = testKeyring();
  const ledger = createLedger({ db: d.db, dialect, keyring, origin: 'test.local/ledger', clock });
  const record = ledger.append;
  const actors = createActors({ db: d.db, dialect, clock, record });
  /** Every ledger event so far (integrates pending entries first). */
  async function events(): Promise<LedgerEvent[]> {
    await ledger.integrate();
    const n = await ledger.size();
    const out: LedgerEvent[] = [];
    for (let i = 0; i < n; i += 1000) for (const e of await ledger.entries(i, 1000)) out.push(e.event);
    return out;
  }
  return { d, dialect, clock, keyring, ledger, record, actors, events };
}

export async function consentSetup(dialect: DialectName) {
  const base = await baseSetup(dialect);
  const consent = createConsent({
    db: base.d.db,
    dialect,
    clock: base.clock,
    keyring: base.keyring,
    record: base.record,
  });
  return { ...base, consent };
}

/** A CLI context over already-built services; output captured. */
export function cliContext<S>(services: S): {
  ctx: CommandContext<S>;
  stdout: () => string;
  program: () => Command;
} {
  let out = '';
  const sink: Writable = new PassThrough();
  sink.on('data', (c: Buffer) => {
    out += c.toString('utf8');
  });
  const ctx: CommandContext<S> = {
    config: () => {
      throw new Error('not used');
    },
    open: async () => ({ ...services, close: async () => {} }) as Opened<S>,
    output: (cmd) => createOutput(Boolean(cmd.optsWithGlobals().json), sink, new PassThrough()),
  };
  const program = () =>
    new Command('custodian')
      .exitOverride()
      .option('--json')
      .configureOutput({ writeErr: () => {}, writeOut: () => {} });
  return { ctx, stdout: () => out, program };
}

export const silentLogger = createLogger({ level: 'silent' });
