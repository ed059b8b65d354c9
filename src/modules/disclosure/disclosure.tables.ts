/** Row types of the disclosure module's tables (migration 0005_consent_disclosure). */
export interface RecipientsTable {
  id: string;
  name: string;
  contact: string;
  jurisdiction: string;
  /** JSON array of purposes. */
  purposes: string;
  contract_ref: string;
  retention_days: number;
  pia_ref: string | null;
  pia_at: string | null;
  transfer_mechanism: string | null;
  transfer_ref: string | null;
  transfer_valid_until: string | null;
  actor_id: string | null;
  webhook_url: string | null;
  status: string;
  created_at: string;
  created_by: string | null;
  updated_at: string;
}

export interface DisclosuresTable {
  id: string;
  recipient_id: string;
  purpose: string;
  basis: string;
  /** JSON array of field names. */
  fields: string;
  format: string;
  jurisdiction: string;
  cross_border: number;
  requested_count: number;
  subject_count: number;
  excluded_count: number;
  withheld_count: number;
  canary_count: number;
  status: string;
  content_sha256: string | null;
  created_at: string;
  created_by: string;
  delivered_at: string | null;
}

export interface DisclosureItemsTable {
  disclosure_id: string;
  subject_id: string;
  delivered_at: string | null;
}

export interface CanariesTable {
  subject_id: string;
  seq: number;
  pool: string;
  unique_to_kind: string;
  unique_to_id: string;
  recipient_id: string | null;
  mobile_hash: Buffer;
  email_hash: Buffer;
  created_at: string;
  trip_count: number;
  last_tripped_at: string | null;
  /** The employee who released the export the canary is unique to (disclosure canaries only). */
  released_by?: string | null;
}

export interface CanaryCountersTable {
  pool: string;
  next_seq: number;
}

export interface CanaryTripsTable {
  id: string;
  occurred_at: string;
  received_at: string;
  channel: string;
  contact_kind: string;
  contact_hash: Buffer;
  caller_hash: Buffer | null;
  matched: number;
  canary_subject_id: string | null;
  alert_id: string | null;
  reported_by: string;
}

export interface DeletionNoticesTable {
  id: string;
  recipient_id: string;
  reason: string;
  /** JSON payload: ids only. */
  payload: string;
  /** Ed25519 over the payload text, base64. */
  signature: string;
  status: string;
  attempts: number;
  created_at: string;
  last_attempt_at: string | null;
  delivered_at: string | null;
  last_error: string | null;
}

export interface DisclosureTables {
  recipients: RecipientsTable;
  disclosures: DisclosuresTable;
  disclosure_items: DisclosureItemsTable;
  canaries: CanariesTable;
  canary_counters: CanaryCountersTable;
  canary_trips: CanaryTripsTable;
  deletion_notices: DeletionNoticesTable;
}
