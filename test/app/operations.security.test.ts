/*
 * Threat: operations that fail badly (issue 11, items 14–17). A key file that a power cut can leave
 * missing (losing every customer), that loads while others can read it, or that fails with an
 * unlabelled SyntaxError; a DATABASE_URL typo that silently creates a new empty SQLite database
 * (or a directory tree); an unreachable or misnamed PostgreSQL reported as "internal error"; two
 * nodes migrating the same database at once.
 */
import { chmodSync, existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { reportError } from '../../src/cli/program.js';
import { ConfigError, loadConfig } from '../../src/config.js';
import { explainStartupError, migrate, openDatabase } from '../../src/db/index.js';
import { generateKeyFile, KeyFileError, readKeyFile, writeKeyFile } from '../../src/lib/crypto/index.js';
import { createTestDatabase, enabledDialects } from '../helpers/db.js';

const dir = () => mkdtempSync(join(tmpdir(), 'custodian-ops-'));

describe('key file', () => {
  it('is written 0600 and loads; a group- or world-readable one is refused unless the override is set', () => {
    const path = join(dir(), 'keys.json');
    writeKeyFile(path, generateKeyFile());
    expect(readKeyFile(path, {}).format).toBe('custodian-keys/1');
    chmodSync(path, 0o644);
    expect(() => readKeyFile(path, {})).toThrow(/readable by group or others \(mode 644\).*chmod 600/);
    expect(readKeyFile(path, { CUSTODIAN_ALLOW_SHARED_KEY_FILE: '1' }).format).toBe('custodian-keys/1');
  });

  it('a malformed key file names what is wrong', () => {
    const path = join(dir(), 'keys.json');
    writeFileSync(path, '{"format": "custodian-keys/1", ', { mode: 0o600 });
    const e1 = (() => {
      try {
        readKeyFile(path, {});
      } catch (e) {
        return e;
      }
    })();
    expect(e1).toBeInstanceOf(KeyFileError);
    expect((e1 as Error).message).toMatch(/is not JSON/);
    writeFileSync(path, JSON.stringify({ ...generateKeyFile(), index: 42 }), { mode: 0o600 });
    expect(() => readKeyFile(path, {})).toThrow(/not valid: index:/);
  });
});

describe('DATABASE_URL', () => {
  it('refuses a value that is neither a path nor sqlite: nor postgres://', () => {
    for (const bad of ['garbage url', 'mysql://x/y', 'postgres:/nohost', 'custodian']) {
      expect(() => loadConfig({ dataDir: dir(), databaseUrl: bad }, {}), bad).toThrow(ConfigError);
    }
    for (const good of ['sqlite:/tmp/x.db', './x.db', '/var/lib/custodian/c.db', 'postgres://u@h:5432/d']) {
      expect(loadConfig({ dataDir: dir(), databaseUrl: good }, {}).databaseUrl).toBe(good);
    }
  });

  it('sqlite:/nonexistent/dir/x.db does not create the directory tree', () => {
    const base = dir();
    const url = `sqlite:${join(base, 'nonexistent', 'dir', 'x.db')}`;
    expect(() => openDatabase(url)).toThrow(/does not exist/);
    expect(existsSync(join(base, 'nonexistent'))).toBe(false);
  });
});

describe('start-up errors', () => {
  it('an unreachable PostgreSQL is one line with a stable code and a hint, no stack', async () => {
    const db = openDatabase('postgres://nobody@127.0.0.1:1/none');
    const e = await migrate(db).catch((x: unknown) => x);
    await db.close();
    expect(explainStartupError(e)?.code).toBe('DB_UNREACHABLE');
    let out = '';
    const write = process.stderr.write;
    process.stderr.write = ((s: string) => {
      out += s;
      return true;
    }) as typeof process.stderr.write;
    const debug = process.env.CUSTODIAN_DEBUG;
    delete process.env.CUSTODIAN_DEBUG;
    try {
      reportError(e, false);
    } finally {
      process.stderr.write = write;
      if (debug !== undefined) process.env.CUSTODIAN_DEBUG = debug;
    }
    expect(out).toMatch(/^custodian: DB_UNREACHABLE: .*\(hint: .*\)\n$/);
    expect(out.split('\n').length).toBe(2);
  });

  it('a port in use, a missing database and a wrong user each get their own code', () => {
    expect(explainStartupError({ code: 'EADDRINUSE', syscall: 'listen', port: 8080 })?.code).toBe(
      'APP_PORT_IN_USE',
    );
    expect(explainStartupError({ code: '3D000' })?.code).toBe('DB_MISSING');
    expect(explainStartupError({ code: '28P01' })?.code).toBe('DB_AUTH_FAILED');
  });
});

// SQLite takes BEGIN IMMEDIATE for the whole run, which serialises migrators in separate processes
// (busy_timeout); two handles in one process would block each other's synchronous driver, so the
// concurrent case is exercised on PostgreSQL (advisory lock) only.
describe.each(enabledDialects().filter((d) => d === 'postgres'))('migrator lock [%s]', (dialect) => {
  it('two migrators started at once apply each migration exactly once', async () => {
    const a = await createTestDatabase(dialect, { migrate: false });
    // A second connection pool (PostgreSQL) or a second SQLite handle on the same file.
    const b = openDatabase(a.url, a.schema ? { schema: a.schema } : {});
    try {
      const [ra, rb] = await Promise.all([migrate(a), migrate(b)]);
      const total = ra.applied.length + rb.applied.length;
      const rows = await a.db.selectFrom('custodian_migrations').select('name').execute();
      expect(total).toBe(rows.length);
      expect(new Set(rows.map((r) => r.name)).size).toBe(rows.length);
    } finally {
      await b.close();
      await a.destroy();
    }
  });
});
