import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkConfig } from '../../src/app/doctor.js';
import { loadConfig } from '../../src/config.js';
import { generateKeyFile, writeKeyFile } from '../../src/lib/crypto/index.js';

// The default (demo) layout: doctor says what it warns about and why it is acceptable for a trial.
describe('doctor on the default layout', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'custodian-doctor-'));
  const config = loadConfig({ dataDir }, {});
  writeKeyFile(config.keyFile, generateKeyFile());

  it('warns about the key file beside the database, naming the demo', () => {
    const warn = checkConfig(config).filter((f) => f.level === 'warn');
    expect(warn.map((f) => f.code).sort()).toEqual(['KEY_FILE_BESIDE_DATABASE']);
    for (const f of warn) expect(f.message).toMatch(/demo/);
    expect(checkConfig(config).some((f) => f.level === 'unsafe')).toBe(false);
  });

  it('has no canary range or domain to configure (canaries look like customers)', () => {
    expect(Object.keys(config).filter((k) => /canary/i.test(k))).toEqual([]);
  });
});
