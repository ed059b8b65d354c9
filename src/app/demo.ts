import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { EmployeeRole } from '../modules/sim/index.js';
import { keyVersionCounts } from '../modules/vault/index.js';
import type { App } from './app.js';
import { type LoadedOrganisation, loadOrganisation, organisationFor } from './simulate/organisation.js';

/**
 * `serve --demo` (`npm start`): on a data directory without subjects, loads the synthetic
 * organisation of src/modules/sim (same seed → same organisation) through the services, and writes
 * the API keys of the administrator and of one demo actor per role into `<dataDir>/demo-keys/<role>`
 * (directory 0700, files 0600). On a directory that already holds subjects it changes nothing.
 *
 * The keys are printed and written once: an API key is returned only when it is created.
 */
export const DEMO_ROLES = [
  'admin',
  'telemarketer',
  'support',
  'billing',
  'telephony',
  'privacy_officer',
  'approver',
  'partner',
] as const;
export type DemoRole = (typeof DEMO_ROLES)[number];

export interface DemoSample {
  /** Actor name (staff number). */
  actor: string;
  subject: string;
  purpose: string;
  fields: string[];
}

export interface DemoResult {
  /** False when the data directory already held subjects (nothing was changed). */
  loaded: boolean;
  message: string;
  keyDir: string;
  /** The API keys, only when they were created by this call. */
  keys: Partial<Record<DemoRole, string>>;
  /** Actor name per demo role. */
  actors: Partial<Record<DemoRole, string>>;
  samples: { support?: DemoSample; telemarketer?: DemoSample };
  seed?: string;
  customers?: number;
  counts?: LoadedOrganisation['counts'];
  elapsedMs?: number;
}

interface DemoManifest {
  format: 'custodian-demo/1';
  seed: string;
  customers: number;
  loadedAt: string;
  actors: Partial<Record<DemoRole, string>>;
  samples: DemoResult['samples'];
}

const MANIFEST = 'demo.json';

function writePrivate(path: string, text: string): void {
  writeFileSync(path, text, { mode: 0o600 });
  chmodSync(path, 0o600);
}

export async function loadDemo(
  app: App,
  options: { seed?: string; customers?: number; log?: (line: string) => void } = {},
): Promise<DemoResult> {
  const seed = options.seed ?? 'demo';
  const customers = options.customers ?? 3000;
  const keyDir = join(app.config.dataDir, 'demo-keys');
  const held = [...(await keyVersionCounts(app.vault)).values()].reduce((a, b) => a + b, 0);
  if (held > 0) {
    const manifest = readManifest(keyDir);
    return {
      loaded: false,
      message: `data directory already holds ${held} subjects: demo not loaded again`,
      keyDir,
      keys: {},
      actors: manifest?.actors ?? {},
      samples: manifest?.samples ?? {},
      ...(manifest ? { seed: manifest.seed, customers: manifest.customers } : {}),
    };
  }

  const started = Date.now();
  const org = organisationFor(app, { seed, customers });
  const loaded = await loadOrganisation(app, org, options.log ? { log: options.log } : {});
  const now = app.clock.now();
  const db = app.database.db;

  const keys: Partial<Record<DemoRole, string>> = { admin: loaded.admin.apiKey };
  const actors: Partial<Record<DemoRole, string>> = { admin: loaded.admin.actor.name };
  const first = (role: EmployeeRole) => org.byRole(role)[0];
  const pick = (demo: DemoRole, ext: string | undefined) => {
    const e = ext ? loaded.employees.get(ext) : undefined;
    if (!e) return;
    keys[demo] = e.apiKey;
    actors[demo] = e.actor.name;
  };
  const samples: DemoResult['samples'] = {};

  // A telemarketer with a lead who agreed to be called (the policy requires the consent).
  for (const e of org.byRole('telemarketing')) {
    let subject: string | undefined;
    for (const i of org.portfolio(e.external_id)) {
      const id = loaded.subjects.get(org.customer(i).record.external_id);
      if (!id) continue;
      if (
        await app.consent.hasConsent(db, {
          subjectId: id,
          purpose: 'telemarketing',
          recipientId: null,
          at: now,
        })
      ) {
        subject = id;
        break;
      }
    }
    if (subject) {
      pick('telemarketer', e.external_id);
      samples.telemarketer = {
        actor: e.external_id,
        subject,
        purpose: 'telemarketing',
        fields: ['name', 'mobile', 'company'],
      };
      break;
    }
  }
  // A support agent with an open ticket (the ticket assigns the customer to him).
  for (const e of org.byRole('support')) {
    const a = loaded.employees.get(e.external_id)!;
    const [assigned] = await app.actors.assignments({ actor: a.actor.id, limit: 1 });
    if (assigned) {
      pick('support', e.external_id);
      samples.support = {
        actor: e.external_id,
        subject: assigned.subjectId,
        purpose: 'customer_support',
        fields: ['name', 'mobile', 'email', 'address'],
      };
      break;
    }
  }
  // A small organisation may have no ticket open yet: open one, as support would.
  const agent = org.byRole('support')[0];
  const customer = loaded.subjects.values().next().value;
  if (!samples.support && agent && customer) {
    const a = loaded.employees.get(agent.external_id)!;
    await app.actors.assign([{ actor: a.actor.id, subjectId: customer }], { by: loaded.admin.actor.id });
    pick('support', agent.external_id);
    samples.support = {
      actor: agent.external_id,
      subject: customer,
      purpose: 'customer_support',
      fields: ['name', 'mobile', 'email', 'address'],
    };
  }
  pick('billing', first('billing')?.external_id);
  pick('privacy_officer', first('privacy_officer')?.external_id);
  pick('approver', first('approver')?.external_id);
  const telephony = [...loaded.services.entries()][0];
  if (telephony) {
    keys.telephony = telephony[1].apiKey;
    actors.telephony = telephony[0];
  }
  const partner = [...loaded.partners.values()].find((p) => p.partner.kind === 'distributor');
  if (partner) {
    keys.partner = partner.apiKey;
    actors.partner = partner.partner.external_id;
  }

  mkdirSync(keyDir, { recursive: true, mode: 0o700 });
  chmodSync(keyDir, 0o700);
  for (const [role, key] of Object.entries(keys)) writePrivate(join(keyDir, role), `${key}\n`);
  const manifest: DemoManifest = {
    format: 'custodian-demo/1',
    seed,
    customers,
    loadedAt: now.toISOString(),
    actors,
    samples,
  };
  // Ids only (actor names, subject ids): nothing in it is personal information.
  writePrivate(join(keyDir, MANIFEST), `${JSON.stringify(manifest, null, 2)}\n`);

  return {
    loaded: true,
    message: `loaded demo organisation "${seed}": ${loaded.counts.imported} customers, ${loaded.counts.employees} employees, ${loaded.counts.partners} partners, ${loaded.counts.consents} consents`,
    keyDir,
    keys,
    actors,
    samples,
    seed,
    customers,
    counts: loaded.counts,
    elapsedMs: Date.now() - started,
  };
}

function readManifest(keyDir: string): DemoManifest | undefined {
  const path = join(keyDir, MANIFEST);
  if (!existsSync(path)) return undefined;
  try {
    const m = JSON.parse(readFileSync(path, 'utf8')) as DemoManifest;
    return m.format === 'custodian-demo/1' ? m : undefined;
  } catch {
    return undefined;
  }
}

function curlRead(url: string, keyFile: string, s: DemoSample): string {
  return (
    `curl -s -H "Authorization: Bearer $(cat ${keyFile})" ` +
    `"${url}/v1/subjects/${s.subject}?purpose=${s.purpose}&fields=${s.fields.join(',')}"`
  );
}

/** What `serve --demo` prints: the URL, the administrator key (once), the key folder, two curls. */
export function formatDemo(r: DemoResult, url: string): string {
  const lines = [r.message];
  if (r.elapsedMs !== undefined) lines[0] += ` in ${(r.elapsedMs / 1000).toFixed(1)} s`;
  lines.push(`API:            ${url}   (OpenAPI at ${url}/openapi.json)`);
  if (r.keys.admin)
    lines.push(`admin API key:  ${r.keys.admin}   (shown once; also in ${join(r.keyDir, 'admin')})`);
  lines.push(`demo keys:      ${r.keyDir}/<role>  (${Object.keys(r.actors).join(', ')})`);
  if (r.samples.support) {
    lines.push(
      '',
      `A support agent (${r.samples.support.actor}) reads one of his assigned customers, masked (any hour):`,
      `  ${curlRead(url, join(r.keyDir, 'support'), r.samples.support)}`,
    );
  }
  if (r.samples.telemarketer) {
    lines.push(
      '',
      `A telemarketer (${r.samples.telemarketer.actor}) reads a consented lead: masked name, mobile as a contact token`,
      '(09:00–21:00 Asia/Shanghai; outside those hours it is denied, and the denial is in the ledger too):',
      `  ${curlRead(url, join(r.keyDir, 'telemarketer'), r.samples.telemarketer)}`,
    );
  }
  lines.push('', `The signed ledger checkpoint: curl -s ${url}/v1/ledger/checkpoint`);
  return lines.join('\n');
}
