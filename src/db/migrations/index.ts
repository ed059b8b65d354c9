import type { Migration } from '../migrator.js';
import * as m0001 from './0001_vault.js';
import * as m0002 from './0002_actors_policy.js';
import * as m0003 from './0003_ledger.js';
import * as m0004 from './0004_access.js';
import * as m0005 from './0005_consent_disclosure.js';
import * as m0006 from './0006_detect.js';
import * as m0007 from './0007_vault_rows.js';
import * as m0008 from './0008_four_eyes.js';
import * as m0010 from './0010_detect_anomaly.js';
import * as m0011 from './0011_trace.js';
import * as m0012 from './0012_rights.js';
import * as m0013 from './0013_sessions.js';
import * as m0014 from './0014_incidents.js';
import * as m0015 from './0015_disclosure_release.js';
import * as m0016 from './0016_incident_scope_index.js';
import * as m0017 from './0017_access_history_keyset.js';
import * as m0018 from './0018_rights_entry_heads.js';
import * as m0019 from './0019_incident_affected_chunks.js';

/** In order. Never edit one that has shipped: add a new one. */
export const migrations: readonly Migration[] = [
  m0001,
  m0002,
  m0003,
  m0004,
  m0005,
  m0006,
  m0007,
  m0008,
  m0010,
  m0011,
  m0012,
  m0013,
  m0014,
  m0015,
  m0016,
  m0017,
  m0018,
  m0019,
];
