import { execFile } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { promisify } from 'node:util';
import { readKeyFile } from '../../../lib/crypto/index.js';
import { checkConfig } from '../../doctor.js';
import { buildHttp, listen } from '../../serve.js';
import { local, principal, type ScenarioContext, type ScenarioDef, setupOrganisation } from '../common.js';

/**
 * exposed-database-2022 (seed 003): an attacker copies the database files (or a PostgreSQL dump)
 * of a deployment. The copy must hold no plaintext PI and no key; a deployment that would listen
 * beyond loopback in clear does not start; `custodian doctor` names every unsafe setting.
 */
const SAMPLE = 100;

interface Needle {
  what: string;
  bytes: Buffer;
}

/** The encodings a value could be stored under: as text, and as bytes shown in hex (a bytea dump). */
function encodings(what: string, value: string): Needle[] {
  const utf8 = Buffer.from(value, 'utf8');
  return [
    { what, bytes: utf8 },
    { what: `${what} (hex)`, bytes: Buffer.from(utf8.toString('hex'), 'utf8') },
  ];
}

function keyNeedles(keyFilePath: string): Needle[] {
  const file = readKeyFile(keyFilePath);
  const out: Needle[] = [];
  const add = (what: string, raw: Buffer) => {
    out.push({ what, bytes: raw });
    out.push({ what: `${what} (base64)`, bytes: Buffer.from(raw.toString('base64'), 'utf8') });
    out.push({ what: `${what} (hex)`, bytes: Buffer.from(raw.toString('hex'), 'utf8') });
  };
  for (const [v, k] of Object.entries(file.kek.versions)) add(`KEK v${v}`, Buffer.from(k, 'base64'));
  add('blind-index key', Buffer.from(file.index, 'base64'));
  // The PKCS#8 DER ends with the 32-byte Ed25519 seed; search both.
  const der = Buffer.from(file.signing.privateKey, 'base64');
  add('ledger signing key', der);
  add('ledger signing key seed', der.subarray(der.length - 32));
  return out;
}

export const exposedDatabase2022: ScenarioDef = {
  name: 'exposed-database-2022',
  title: 'an attacker copies the database files or a dump',
  seeds: '003',
  policies: ['guarded', 'lax'],
  defaults: { subjects: 1000, days: 1 },
  start: local('2022-06-01', '10:00'),
  async run(ctx: ScenarioContext) {
    const { inst, checks } = ctx;
    const { app } = inst;
    const loaded = await setupOrganisation(ctx);
    const { org } = loaded;

    // Some ordinary use, so that access events, tokens and a disclosure are in the copy too.
    const support = [...loaded.employees.values()].find((e) => e.employee.role === 'support')!;
    const mine = await app.actors.assignments({ actor: support.actor.id, limit: 20 });
    for (const a of mine)
      await app.access.read(principal(support), {
        subjectId: a.subjectId,
        purpose: 'customer_support',
        fields: ['name', 'mobile', 'email', 'address'],
      });
    const tm = [...loaded.employees.values()].find((e) => e.employee.role === 'telemarketing')!;
    for (const a of await app.actors.assignments({ actor: tm.actor.id, limit: 20 }))
      await app.access.read(principal(tm), {
        subjectId: a.subjectId,
        purpose: 'telemarketing',
        fields: ['name', 'mobile'],
      });
    await app.access.drain();
    await app.ledger.integrate();
    await app.ledger.checkpoint();

    // The copy: the database files as they lie on disk (WAL included), or a pg_dump of the schema.
    const loot = mkdtempSync(join(tmpdir(), 'custodian-exposed-'));
    let copied: string[] = [];
    let how: string;
    try {
      if (inst.sqliteFile) {
        for (const suffix of ['', '-wal', '-shm']) {
          const f = inst.sqliteFile + suffix;
          if (existsSync(f)) {
            copyFileSync(f, join(loot, basename(f)));
            copied.push(join(loot, basename(f)));
          }
        }
        how = `copied ${copied.map((f) => basename(f)).join(', ')}`;
      } else {
        const pg = inst.postgres!;
        const out = join(loot, 'dump.sql');
        try {
          const { stdout } = await promisify(execFile)(
            'pg_dump',
            ['--no-owner', '--no-privileges', `--schema=${pg.schema}`, pg.url],
            { maxBuffer: 1 << 30, encoding: 'buffer' },
          );
          writeFileSync(out, stdout);
          copied = [out];
          how = `pg_dump of schema ${pg.schema}`;
        } catch (e) {
          checks.notCovered(
            'prevented',
            'the copy holds no plaintext PI and no key',
            `pg_dump could not be run (${(e as NodeJS.ErrnoException).code ?? 'error'}): install the PostgreSQL client tools`,
          );
          how = 'none';
        }
      }
      if (copied.length) {
        const data = Buffer.concat(copied.map((f) => readFileSync(f)));
        // A sample of customers, spread over the organisation, every field of each.
        const partnerNames = new Set(org.partners.map((p) => p.name));
        const needles: Needle[] = [];
        const step = Math.max(1, Math.floor(org.customerCount / SAMPLE));
        let sampled = 0;
        const controls: Needle[] = [];
        for (let i = 0; i < org.customerCount && sampled < SAMPLE; i += step) {
          const r = org.customer(i).record;
          if (!loaded.subjects.has(r.external_id)) continue;
          sampled++;
          controls.push({ what: 'external id', bytes: Buffer.from(r.external_id, 'utf8') });
          needles.push(...encodings('name', r.name));
          needles.push(...encodings('mobile', r.mobile), ...encodings('mobile (E.164)', `+86${r.mobile}`));
          if (r.email) needles.push(...encodings('e-mail', r.email.toLowerCase()));
          needles.push(...encodings('ID number', r.id_number.toUpperCase()));
          if (r.address) needles.push(...encodings('address', r.address));
          if (r.company && !partnerNames.has(r.company)) needles.push(...encodings('company', r.company));
        }
        const found = needles.filter((n) => data.includes(n.bytes));
        const keys = keyNeedles(inst.config.keyFile);
        const keysFound = keys.filter((n) => data.includes(n.bytes));
        // A positive control: external ids are stored in clear (they are not PI), so a search that
        // finds none of them would be looking at the wrong bytes.
        const controlHits = controls.filter((n) => data.includes(n.bytes)).length;
        checks.expect(
          'prevented',
          'searching the copy for stored phone numbers, ID numbers, names and e-mails finds nothing',
          found.length === 0 && controlHits === controls.length,
          `${how} (${data.length} bytes); searched ${needles.length} encodings of every field of ${sampled} customers: ${found.length} found${found.length ? ` (${[...new Set(found.map((f) => f.what))].join(', ')})` : ''}; control: ${controlHits}/${controls.length} external ids (stored in clear, not PI) found`,
          { bytes: data.length, customersSampled: sampled, needles: needles.length, found: found.length },
        );
        checks.expect(
          'prevented',
          'the keys are not in it',
          keysFound.length === 0,
          `searched ${keys.length} encodings of the KEK, blind-index and ledger signing keys: ${keysFound.length} found; the key file lives outside the database (${basename(inst.config.keyFile)})`,
          { found: keysFound.length },
        );
      }
    } finally {
      rmSync(loot, { recursive: true, force: true });
    }

    // A deployment that listens beyond loopback without TLS does not start.
    const exposed = { ...inst.config, host: '0.0.0.0' };
    delete (exposed as { tlsCert?: string }).tlsCert;
    delete (exposed as { tlsKey?: string }).tlsKey;
    const server = buildHttp(app);
    let refused = '';
    try {
      await listen({ ...app, config: exposed }, server);
      refused = 'LISTENING';
    } catch (e) {
      refused = (e as { code?: string }).code ?? 'error';
    } finally {
      await server.close();
    }
    const anonymous = await inst.request(
      undefined,
      'GET',
      `/v1/subjects/${loaded.subjects.values().next().value}?purpose=customer_support&fields=name`,
    );
    checks.expect(
      'prevented',
      'a deployment that listens beyond loopback without TLS does not start, and no read goes unauthenticated',
      refused === 'APP_UNSAFE_BIND' && anonymous.status === 401,
      `serve on 0.0.0.0 without CUSTODIAN_TLS_CERT/KEY → ${refused}; an unauthenticated GET /v1/subjects/:id → ${anonymous.status} ${anonymous.body?.code ?? ''}`,
    );

    // doctor: every unsafe setting of an exposed deployment, and the layout warning of this one.
    const looseKey = join(inst.dataDir, 'keys-copy.json');
    copyFileSync(inst.config.keyFile, looseKey);
    chmodSync(looseKey, 0o644);
    const bad = checkConfig({
      ...exposed,
      keyFile: looseKey,
      databaseUrl: 'postgres://custodian:secret@db.example.com:5432/custodian',
      logLevel: 'debug',
    });
    rmSync(looseKey, { force: true });
    const unsafe = bad.filter((f) => f.level === 'unsafe').map((f) => f.code);
    const warn = bad.filter((f) => f.level === 'warn').map((f) => f.code);
    const here = checkConfig(inst.config).filter((f) => f.level !== 'ok');
    const expected = ['BIND_WITHOUT_TLS', 'KEY_FILE_MODE', 'DATABASE_WITHOUT_TLS'];
    checks.expect(
      'detected',
      '`custodian doctor` reports every unsafe setting',
      expected.every((c) => unsafe.includes(c)),
      `an exposed configuration (public bind in clear, key file mode 644, remote PostgreSQL without sslmode, password in the URL, debug logs) → unsafe: ${unsafe.join(', ')}; warnings: ${warn.join(', ')}. This run's own layout → ${here.map((f) => `${f.level} ${f.code}`).join(', ') || 'nothing to report'}`,
      { unsafe: unsafe, warnings: warn },
    );
  },
};
