import { accessSuite } from './suites/access.js';
import { consoleSuite } from './suites/console.js';
import { detectSuite } from './suites/detect.js';
import { disclosureSuite } from './suites/disclosure.js';
import { incidentsSuite } from './suites/incidents.js';
import { ledgerSuite } from './suites/ledger.js';
import { rightsSuite } from './suites/rights.js';
import { traceSuite } from './suites/trace.js';
import { vaultSuite } from './suites/vault.js';
import type { BenchSuite } from './types.js';

/** Every suite `custodian bench` knows, in the order it runs them. */
export const suites: BenchSuite[] = [
  vaultSuite,
  ledgerSuite,
  accessSuite,
  disclosureSuite,
  detectSuite,
  rightsSuite,
  incidentsSuite,
  traceSuite,
  consoleSuite,
];
