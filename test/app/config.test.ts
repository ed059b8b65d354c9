import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/app/doctor.js';
import { ConfigError, ENV, loadConfig } from '../../src/config.js';

describe('config', () => {
  it('defaults to loopback, SQLite and a key file under the data directory', () => {
    const c = loadConfig({ dataDir: '/tmp/custodian-x' }, {});
    expect(c.host).toBe('127.0.0.1');
    expect(c.port).toBe(8080);
    expect(c.databaseUrl).toBe('sqlite:/tmp/custodian-x/custodian.db');
    expect(c.keyFile).toBe('/tmp/custodian-x/keys.json');
    expect(c.sqliteCacheMiB).toBe(64);
    expect(loadConfig({ dataDir: '/tmp/x' }, { CUSTODIAN_SQLITE_CACHE_MIB: '4096' }).sqliteCacheMiB).toBe(
      4096,
    );
    expect(c.sqliteMmapMiB).toBe(2048);
    expect(loadConfig({ dataDir: '/tmp/x' }, { CUSTODIAN_SQLITE_MMAP_MIB: '0' }).sqliteMmapMiB).toBe(0);
  });

  it.each([
    [{ CUSTODIAN_PORT: 'eighty' }, 'CUSTODIAN_PORT'],
    [{ CUSTODIAN_PORT: '70000' }, 'CUSTODIAN_PORT'],
    [{ DATABASE_URL: 'mysql://x' }, 'DATABASE_URL'],
    [{ CUSTODIAN_LOG_LEVEL: 'loud' }, 'CUSTODIAN_LOG_LEVEL'],
    [{ CUSTODIAN_TLS_CERT: '/c.pem' }, 'CUSTODIAN_TLS_KEY'],
    [{ CUSTODIAN_SQLITE_CACHE_MIB: '1' }, 'CUSTODIAN_SQLITE_CACHE_MIB'],
    [{ CUSTODIAN_SQLITE_MMAP_MIB: '4096' }, 'CUSTODIAN_SQLITE_MMAP_MIB'],
    [{ CUSTODIAN_SQLITE_CACHE_MIB: 'lots' }, 'CUSTODIAN_SQLITE_CACHE_MIB'],
  ])('a bad value stops start-up naming the variable (%o)', (env, variable) => {
    let err: unknown;
    try {
      loadConfig({}, env);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).variable).toBe(variable);
    expect((err as Error).message).toContain(variable);
  });

  it('the README documents every variable, and no other', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('## Configuration'), readme.indexOf('## Map of src/'));
    const documented = new Set(
      [...section.matchAll(/`((?:CUSTODIAN_|DATABASE_)[A-Z_]+)`/g)].map((m) => m[1]),
    );
    expect([...documented].sort()).toEqual(Object.values(ENV).sort());
  });

  it('flags win over the environment', () => {
    expect(loadConfig({ port: 9000 }, { CUSTODIAN_PORT: '8000' }).port).toBe(9000);
  });
});

/* Threat (exposed-database-2022): a deployment reachable from outside in clear, or whose database
 * sits on a remote server without TLS. doctor must name each unsafe setting. */
describe('doctor', () => {
  it('reports a non-loopback bind without TLS and a remote database without TLS as unsafe', () => {
    const c = loadConfig(
      { dataDir: '/tmp/custodian-doc', host: '0.0.0.0' },
      { DATABASE_URL: 'postgres://u:pw@db.example:5432/x' },
    );
    const codes = checkConfig(c)
      .filter((f) => f.level === 'unsafe')
      .map((f) => f.code);
    expect(codes).toEqual(
      expect.arrayContaining(['BIND_WITHOUT_TLS', 'DATABASE_WITHOUT_TLS', 'KEY_FILE_MISSING']),
    );
    expect(checkConfig(c).map((f) => f.code)).toContain('DATABASE_PASSWORD_IN_URL');
    // The password itself never appears in a finding.
    expect(JSON.stringify(checkConfig(c))).not.toContain(':pw@');
  });
});
