import { existsSync, statSync } from 'node:fs';
import { type Config, ENV, isLoopback } from '../config.js';
import { keyFileMode } from '../lib/crypto/index.js';
import { keyFileBesideDatabase } from './infra.js';

/**
 * `custodian doctor`: every setting that would let the 2022 incident repeat (a database reachable
 * without a password, a service listening on the internet in clear, keys lying beside the data).
 * 'unsafe' findings make `serve` refuse to start where noted and make doctor exit 1.
 */
export interface Finding {
  level: 'unsafe' | 'warn' | 'ok';
  code: string;
  message: string;
}

export function checkConfig(config: Config): Finding[] {
  const f: Finding[] = [];
  const tls = Boolean(config.tlsCert && config.tlsKey);
  if (!isLoopback(config.host) && !tls) {
    f.push({
      level: 'unsafe',
      code: 'BIND_WITHOUT_TLS',
      message: `${ENV.host}=${config.host} listens beyond loopback without TLS (serve refuses to start)`,
    });
  } else {
    f.push({
      level: 'ok',
      code: 'BIND',
      message: `listens on ${config.host}${tls ? ' with TLS' : ' (loopback only)'}`,
    });
  }
  for (const [name, file] of [
    [ENV.tlsCert, config.tlsCert],
    [ENV.tlsKey, config.tlsKey],
  ] as const) {
    if (file && !existsSync(file))
      f.push({ level: 'unsafe', code: 'TLS_FILE_MISSING', message: `${name} points to a missing file` });
  }
  if (!existsSync(config.keyFile)) {
    f.push({
      level: 'unsafe',
      code: 'KEY_FILE_MISSING',
      message: `no key file at ${config.keyFile}: run custodian init`,
    });
  } else {
    const mode = keyFileMode(config.keyFile);
    if (mode & 0o077) {
      f.push({
        level: 'unsafe',
        code: 'KEY_FILE_MODE',
        message: `key file is readable by others (mode ${mode.toString(8)}); chmod 600 ${config.keyFile}`,
      });
    } else f.push({ level: 'ok', code: 'KEY_FILE_MODE', message: 'key file mode 600' });
    if (keyFileBesideDatabase(config)) {
      f.push({
        level: 'warn',
        code: 'KEY_FILE_BESIDE_DATABASE',
        // The default layout (`npm start`, the demo) is exactly this: one directory for a trial run.
        // Still a warning, with the reason it is acceptable there and not in production.
        message: `the key file sits beside the database: a copy of the data directory carries both. Expected for the demo and a trial (the default layout); in production set ${ENV.keyFile} to another volume`,
      });
    }
  }
  if (config.databaseUrl.startsWith('postgres')) {
    const u = new URL(config.databaseUrl);
    if (u.password) {
      f.push({
        level: 'warn',
        code: 'DATABASE_PASSWORD_IN_URL',
        message: `${ENV.databaseUrl} carries a password; prefer PGPASSFILE or a secret store`,
      });
    }
    const local = ['127.0.0.1', 'localhost', '::1', ''].includes(u.hostname) || u.hostname.startsWith('/');
    const sslmode = u.searchParams.get('sslmode');
    if (!local && (!sslmode || ['disable', 'allow', 'prefer'].includes(sslmode))) {
      f.push({
        level: 'unsafe',
        code: 'DATABASE_WITHOUT_TLS',
        message: `${ENV.databaseUrl} reaches a remote PostgreSQL without sslmode=require or stricter`,
      });
    }
  } else {
    const path = config.databaseUrl.replace(/^sqlite:/, '');
    if (existsSync(path) && statSync(path).mode & 0o077) {
      f.push({
        level: 'warn',
        code: 'DATABASE_FILE_MODE',
        message: 'the SQLite file is readable by other users',
      });
    }
  }
  if (config.logLevel === 'debug' || config.logLevel === 'trace') {
    f.push({
      level: 'warn',
      code: 'LOG_LEVEL',
      message: `${ENV.logLevel}=${config.logLevel} logs more than production needs`,
    });
  }
  return f;
}
