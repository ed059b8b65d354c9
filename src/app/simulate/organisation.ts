import { type Actor, ensureAdmin } from '../../modules/actors/index.js';
import type { NoticeInput } from '../../modules/consent/index.js';
import type { Recipient } from '../../modules/disclosure/index.js';
import {
  CONSENT_CSV_COLUMNS,
  CUSTOMER_COLUMNS,
  csvLine,
  customerCsvLine,
  type Employee,
  generateOrganisation,
  generateWorkload,
  type Organisation,
  type OrganisationOptions,
  type Partner,
  type Notice as SimNotice,
} from '../../modules/sim/index.js';
import { importSubjects } from '../../modules/vault/index.js';
import type { App } from '../app.js';

/**
 * Loads a synthetic organisation (src/modules/sim) into a Custodian instance through the services'
 * public interfaces, the way an organisation moving in would: a streaming CSV import of its
 * customers, the first administrator, one actor per employee, service and partner, the partners as
 * recipients (each with an impact assessment on file, PIPL art. 55; a transfer mechanism for the
 * ones abroad, art. 38), the notices its customers saw, their consents, and the portfolios.
 *
 * Shared by `serve --demo` and `custodian simulate`. Everything it returns is ids and keys, never PI.
 */

/** The processor named in every notice (PIPL art. 17: name and contact of the processor). */
export const PROCESSOR = {
  name: 'Hangzhou Demo Cloud Co., Ltd. (杭州示例云计算有限公司)',
  contact: 'privacy@corp.example, +86 571 8000 0000',
};

export interface LoadedActor {
  actor: Actor;
  /** Returned once by actors.create; kept here for the simulation and the demo key files. */
  apiKey: string;
}

export interface LoadedPartner extends LoadedActor {
  partner: Partner;
  recipient: Recipient;
}

export interface LoadedOrganisation {
  org: Organisation;
  admin: LoadedActor;
  /** By staff number (E00001…). */
  employees: Map<string, LoadedActor & { employee: Employee }>;
  /** By service name (svc-telephony). */
  services: Map<string, LoadedActor>;
  /** By partner number (P0001…). */
  partners: Map<string, LoadedPartner>;
  /** Customer external id → subject id. */
  subjects: Map<string, string>;
  counts: {
    customers: number;
    imported: number;
    rejectedRows: number;
    employees: number;
    partners: number;
    notices: number;
    consents: number;
    consentsRejected: number;
    assignments: number;
    assignmentsRejected: number;
  };
}

export interface LoadOptions {
  /** Days of support tickets (from sim's workload) assigned before the present; default 7. */
  ticketDays?: number;
  /** Progress: one line per step, with its duration. */
  log?: (line: string) => void;
}

/**
 * The organisation for this deployment. Canaries are drawn from the same distribution as customers
 * and checked against the vault when planted, so no range needs reserving.
 */
export function organisationFor(_app: Pick<App, 'config'>, opts: OrganisationOptions): Organisation {
  return generateOrganisation(opts);
}

/** Consent import files name notices `key@version`; notice keys are lower case. */
function noticeKey(simKey: string): string {
  return simKey.toLowerCase();
}

function* customerLines(org: Organisation): Generator<string> {
  yield csvLine(CUSTOMER_COLUMNS);
  for (const r of org.customers()) yield customerCsvLine(r);
}

function noticeInput(n: SimNotice, partner: LoadedPartner | undefined, home: string): NoticeInput {
  const fields = [...n.fields];
  const revised = n.version > 1 ? ' Revised to GB/T 35273 (2018 edition).' : '';
  const processor = `${PROCESSOR.name} (contact: ${PROCESSOR.contact})`;
  const rights =
    'You may see, copy, correct or delete your information and withdraw this consent at any time ' +
    'in the app, on the web site or by calling the contact above; withdrawing does not affect the service.';
  if (!partner) {
    return {
      key: noticeKey(n.key),
      language: 'en',
      text:
        `${processor} will call you about its services using your ${fields.join(', ')}. This is optional. ` +
        `Kept until you withdraw or 2 years after your last order. ${rights}${revised}`,
      declarations: {
        processor: PROCESSOR,
        purposes: [{ purpose: n.purpose, necessary: false }],
        methods: ['use', 'telephone contact'],
        categories: ['identity', 'contact', 'organisation'],
        fields,
        retention: 'until withdrawal, at most 2 years after the last order',
        rights,
      },
    };
  }
  const r = partner.recipient;
  const abroad = r.jurisdiction !== home;
  return {
    key: noticeKey(n.key),
    language: 'en',
    text:
      `${processor} will provide your ${fields.join(', ')} to ${r.name} (contact: ${r.contact}) for its ` +
      `referral programme, by secure file transfer. ${r.name} keeps them ${r.retentionDays} days.` +
      (abroad ? ` ${r.name} is located in ${r.jurisdiction}: your information leaves the country.` : '') +
      ` ${rights} You may also exercise them with ${r.name}.${revised}`,
    declarations: {
      processor: PROCESSOR,
      purposes: [{ purpose: n.purpose, necessary: false }],
      methods: ['provision by file transfer'],
      categories: ['identity', 'contact', 'organisation'],
      fields,
      retention: `${r.retentionDays} days at the recipient`,
      rights,
      thirdParty: {
        recipientId: r.id,
        name: r.name,
        contact: r.contact,
        purposes: [n.purpose],
        methods: ['provision by file transfer'],
        categories: ['identity', 'contact', 'organisation'],
        fields,
      },
      ...(abroad
        ? { crossBorder: { jurisdiction: r.jurisdiction, rights: `write to ${r.name} at its contact` } }
        : {}),
    },
  };
}

const CONSENT_BATCH_CUSTOMERS = 20_000;
const ASSIGN_BATCH = 50_000;

export async function loadOrganisation(
  app: App,
  org: Organisation,
  options: LoadOptions = {},
): Promise<LoadedOrganisation> {
  let lap = Date.now();
  const step = (what: string) => {
    const now = Date.now();
    options.log?.(`  ${what} (${now - lap} ms)`);
    lap = now;
  };
  // 1. Customers: the streaming CSV import (validated, batched, one ledger entry per batch).
  const imported = await importSubjects(app.vault, customerLines(org));
  if (imported.aborted) throw new Error(`customer import aborted (${imported.aborted.code})`);
  const subjects = new Map<string, string>();
  const ids: string[] = [];
  for (const r of org.customers()) {
    ids.push(r.external_id);
    if (ids.length === 10_000) {
      for (const [k, v] of await app.vault.resolveExternalIds(ids.splice(0))) subjects.set(k, v);
    }
  }
  if (ids.length) for (const [k, v] of await app.vault.resolveExternalIds(ids)) subjects.set(k, v);
  step(`imported ${imported.imported} customers (${imported.rejectedRows} rows rejected)`);

  // 2. People: the first administrator, then one actor per employee (the staff number is the name).
  const boot = await ensureAdmin(app.actors);
  if (!boot.apiKey) throw new Error('an administrator already exists: load into an empty data directory');
  const admin: LoadedActor = { actor: boot.actor, apiKey: boot.apiKey };
  const by = admin.actor.id;
  const employees: LoadedOrganisation['employees'] = new Map();
  for (const e of org.employees) {
    const attributes: Record<string, string> = { department: e.department, region: e.region };
    if (e.manager) attributes.manager = e.manager;
    const { actor, apiKey } = await app.actors.create(
      { name: e.external_id, kind: 'employee', roles: [e.role], attributes },
      // The organisation is loaded by the host operator (as `custodian actors create` is): roles that
      // allow plain PI need a second administrator only when an administrator's key asks (four-eyes).
      { by: null },
    );
    employees.set(e.external_id, { actor, apiKey, employee: e });
  }
  const services: LoadedOrganisation['services'] = new Map();
  for (const s of org.services) {
    const { actor, apiKey } = await app.actors.create(
      { name: s.external_id, kind: 'service', roles: [...s.roles], attributes: {} },
      // The organisation is loaded by the host operator (as `custodian actors create` is): roles that
      // allow plain PI need a second administrator only when an administrator's key asks (four-eyes).
      { by: null },
    );
    services.set(s.external_id, { actor, apiKey });
  }
  step(`created ${employees.size} employees and ${services.size} service(s)`);

  // 3. Partners: an actor (its own key, to pull deliveries and deletion notices) and a recipient.
  const home = app.config.jurisdiction;
  const partners: LoadedOrganisation['partners'] = new Map();
  for (const p of org.partners) {
    const { actor, apiKey } = await app.actors.create(
      { name: p.external_id, kind: 'partner', roles: ['partner'], attributes: { kind: p.kind } },
      // The organisation is loaded by the host operator (as `custodian actors create` is): roles that
      // allow plain PI need a second administrator only when an administrator's key asks (four-eyes).
      { by: null },
    );
    const year = p.since.slice(0, 4);
    const abroad = p.jurisdiction !== home;
    const recipient = await app.disclosure.addRecipient(
      {
        name: p.name,
        contact: `${p.contact.email}, ${p.contact.phone}`,
        jurisdiction: p.jurisdiction,
        purposes: ['partner_referral'],
        contractRef: `DPA-${year}-${p.external_id}`,
        retentionDays: 90,
        // PIPL art. 55: no recipient is enabled without an impact assessment on file.
        piaRef: `PIA-${year}-${p.external_id}`,
        // PIPL art. 38: a partner abroad receives nothing without a transfer mechanism. sim does not
        // say which one; below 100,000 people a year the standard contract is the usual one.
        ...(abroad
          ? { transfer: { mechanism: 'standard_contract', ref: `SCC-${year}-${p.external_id}` } }
          : {}),
        actorId: actor.id,
      },
      by,
    );
    partners.set(p.external_id, { actor, apiKey, partner: p, recipient });
  }
  step(`created ${partners.size} partners and recipients`);

  // 4. Notices, in version order, so `key@version` names the text each customer saw.
  const notices = [...org.notices].sort((a, b) => a.version - b.version || a.key.localeCompare(b.key));
  for (const n of notices) {
    const partner = n.recipient_id ? partners.get(n.recipient_id) : undefined;
    await app.consent.publishNotice(noticeInput(n, partner, home), by);
  }
  step(`published ${notices.length} notices`);

  // 5. Consents, with the evidence references sim keeps (the import file's columns, by subject id).
  let consents = 0;
  let consentsRejected = 0;
  const columns = ['subject_id', ...CONSENT_CSV_COLUMNS.filter((c) => c !== 'mobile')];
  for (let start = 0; start < org.customerCount; start += CONSENT_BATCH_CUSTOMERS) {
    const count = Math.min(CONSENT_BATCH_CUSTOMERS, org.customerCount - start);
    const lines = [csvLine(columns)];
    for (const c of org.consents({ start, count })) {
      const subjectId = subjects.get(c.external_id);
      if (!subjectId) continue;
      const recipient = c.recipient_id ? partners.get(c.recipient_id)?.recipient.id : '';
      if (recipient === undefined) continue;
      lines.push(
        csvLine([
          subjectId,
          c.purpose,
          recipient,
          c.fields.join(';'),
          noticeKey(c.notice),
          c.method,
          c.given_by,
          c.given_at,
          c.expires_at ?? '',
          c.withdrawn_at ?? '',
          '0',
          c.third_party ? '1' : '0',
          c.cross_border ? '1' : '0',
          c.evidence_ref,
        ]),
      );
    }
    if (lines.length === 1) continue;
    const r = await app.consent.importCsv(lines.join(''), by);
    consents += r.imported;
    consentsRejected += r.rejected;
  }
  step(`imported ${consents} consents (${consentsRejected} rejected)`);

  // 6. Portfolios: leads, key accounts and partners' referrals; then the support tickets opened in
  // the days before the present (a ticket assigns the customer to the agent).
  let assignments = 0;
  let assignmentsRejected = 0;
  let batch: { actor: string; subjectId: string }[] = [];
  const flush = async () => {
    if (batch.length === 0) return;
    const r = await app.actors.assign(batch, { by });
    assignments += r.assigned;
    assignmentsRejected += r.rejected.length;
    batch = [];
  };
  const actorOf = (ext: string) => employees.get(ext)?.actor.id ?? partners.get(ext)?.actor.id;
  const add = async (actorExt: string, subjectExt: string) => {
    const actor = actorOf(actorExt);
    const subjectId = subjects.get(subjectExt);
    if (!actor || !subjectId) {
      assignmentsRejected++;
      return;
    }
    batch.push({ actor, subjectId });
    if (batch.length >= ASSIGN_BATCH) await flush();
  };
  for (const a of org.assignments()) await add(a.actor, a.external_id);
  const ticketDays = options.ticketDays ?? 7;
  if (ticketDays > 0) {
    const start = new Date(Date.parse(org.asOf) - ticketDays * 86_400_000);
    for (const ev of generateWorkload({ org, start, days: ticketDays })) {
      if (ev.kind === 'assign') await add(ev.actor, ev.subject);
    }
  }
  await flush();
  step(`assigned ${assignments} portfolio entries and tickets`);

  return {
    org,
    admin,
    employees,
    services,
    partners,
    subjects,
    counts: {
      customers: org.customerCount,
      imported: imported.imported,
      rejectedRows: imported.rejectedRows,
      employees: employees.size,
      partners: partners.size,
      notices: notices.length,
      consents,
      consentsRejected,
      assignments,
      assignmentsRejected,
    },
  };
}
