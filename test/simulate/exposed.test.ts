/*
 * Scenario exposed-database-2022 (shared/SCENARIOS.md; seed 003), on each dialect: the SQLite files
 * as they lie on disk (WAL included), or a pg_dump of the deployment's schema.
 *
 * Threat: a copy of the database taken by someone who reached it (the 2022 police database was
 * reachable without a password) reveals customers' names, numbers, ID numbers or e-mails, or the
 * keys that decrypt them; a deployment that listens beyond loopback in clear starts anyway.
 */
import { expect, it } from 'vitest';
import { describeEachDialect } from '../helpers/db.js';
import { check, failures, SCENARIO_TIMEOUT, simulate } from './helpers.js';

describeEachDialect('simulate exposed-database-2022', (dialect) => {
  it(
    'the copy holds no plaintext PI and no key; an unsafe bind does not start; doctor names it',
    async () => {
      const r = await simulate(dialect, 'exposed-database-2022', { subjects: 300 });
      expect(failures(r)).toEqual([]);
      const pi = check(r, 'finds nothing');
      expect(pi.status).toBe('held');
      expect(pi.evidence?.found).toBe(0);
      expect(pi.evidence?.needles).toBeGreaterThan(500);
      expect(check(r, 'the keys are not in it').status).toBe('held');
      expect(check(r, 'does not start').status).toBe('held');
      const doctor = check(r, 'doctor');
      expect(doctor.status).toBe('held');
      expect(doctor.evidence?.unsafe).toEqual(
        expect.arrayContaining(['BIND_WITHOUT_TLS', 'KEY_FILE_MODE', 'DATABASE_WITHOUT_TLS']),
      );
    },
    SCENARIO_TIMEOUT,
  );
});
