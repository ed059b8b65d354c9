import type { Migration } from '../migrator.js';
import * as m0001 from './0001_vault.js';
import * as m0002 from './0002_actors_policy.js';
import * as m0003 from './0003_ledger.js';
import * as m0004 from './0004_access.js';
import * as m0005 from './0005_consent_disclosure.js';
import * as m0006 from './0006_detect.js';
import * as m0007 from './0007_vault_rows.js';
import * as m0010 from './0010_detect_anomaly.js';

/** In order. Never edit one that has shipped: add a new one. */
export const migrations: readonly Migration[] = [m0001, m0002, m0003, m0004, m0005, m0006, m0007, m0010];
