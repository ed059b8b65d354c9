export interface IncidentRow {
  id: string;
  title: string;
  /** open | closed */
  status: string;
  /** alert | canary | trace | complaint | manual */
  source_kind: string;
  source_ref: string | null;
  aware_by: string | null;
  aware_at: string;
  opened_by: string | null;
  opened_at: string;
  critical_infrastructure: number;
  high_risk: number;
  grade: string;
  /** A grade a person raised it to; the count's grade applies when higher. */
  grade_floor: string | null;
  affected_count: number | string;
  scope_version: number;
  /** JSON IncidentFacts. */
  facts: string;
  /** pending | notify | not_notify */
  individuals_decision: string;
  no_notify_reason: string | null;
  handled_at: string | null;
  closed_at: string | null;
  updated_at: string;
}

export interface IncidentScopeRow {
  incident_id: string;
  version: number;
  /** initial | widen | narrow | replace */
  change: string;
  criteria: string;
  affected_count: number | string;
  event_count: number | string;
  /** JSON field → events. */
  fields: string;
  /** JSON view → events. */
  views: string;
  list_sha256: string;
  ledger_size: number | string;
  signed_note: string;
  reason: string | null;
  created_at: string;
  created_by: string | null;
}

/**
 * 1,000 consecutive lines of a scope's signed list (migration 0019): `lines` is that slice of the
 * list byte for byte, so a version's chunks concatenated in chunk order hash to its list_sha256.
 */
export interface IncidentAffectedChunkRow {
  incident_id: string;
  version: number;
  chunk: number;
  first_subject: string;
  last_subject: string;
  subjects: number;
  lines: string;
}

export interface IncidentClockRow {
  incident_id: string;
  name: string;
  started_at: string;
  due_at: string;
  warn_at: string;
  met_at: string | null;
  stopped_reason: string | null;
  updated_at: string;
}

export interface IncidentNoticeRow {
  id: string;
  incident_id: string;
  /** regulator | individuals | regulator_final */
  audience: string;
  body: string;
  /** draft | submitted */
  status: string;
  created_at: string;
  created_by: string | null;
  submitted_at: string | null;
}

export interface IncidentDeliveryRow {
  id: string;
  incident_id: string;
  notice_id: string;
  subject_id: string;
  channel: string | null;
  message_id: string | null;
  /** sent | failed | no_contact | denied */
  status: string;
  at: string;
  leaf_hash: string;
}

export interface IncidentActionRow {
  id: string;
  incident_id: string;
  kind: string;
  target: string;
  outcome: string;
  detail: string;
  at: string;
  by: string | null;
}

export interface IncidentTimelineRow {
  id: string;
  incident_id: string;
  seq: number;
  at: string;
  kind: string;
  actor: string | null;
  detail: string;
  leaf_hash: string;
}

/** The access events table, read only (the access module writes it; scoping never decrypts). */
export interface ScopeAccessEventRow {
  id: string;
  at: string;
  actor_id: string;
  purpose: string;
  subject_id: string | null;
  action: string;
  fields: string;
  views: string;
  allowed: number;
  request_id: string | null;
  leaf_hash: string;
}

export interface IncidentTables {
  incidents: IncidentRow;
  incident_scopes: IncidentScopeRow;
  incident_affected_chunks: IncidentAffectedChunkRow;
  incident_clocks: IncidentClockRow;
  incident_notices: IncidentNoticeRow;
  incident_deliveries: IncidentDeliveryRow;
  incident_actions: IncidentActionRow;
  incident_timeline: IncidentTimelineRow;
  access_events: ScopeAccessEventRow;
  disclosure_items: { disclosure_id: string; subject_id: string; delivered_at: string | null };
  disclosures: { id: string; recipient_id: string };
}
