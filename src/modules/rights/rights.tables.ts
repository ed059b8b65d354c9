/** Row shapes of the rights tables (migration 0012_rights), as the drivers return them. */
export interface RightsCodesTable {
  id: string;
  subject_id: string | null;
  address_key: string;
  channel: string;
  code_hash: Buffer;
  created_at: string;
  expires_at: string;
  attempts: number;
  used_at: string | null;
}

export interface RightsSessionsTable {
  id: string;
  token_hash: string;
  subject_id: string;
  created_at: string;
  expires_at: string;
  revoked_at: string | null;
}

export interface RightsRequestsTable {
  id: string;
  subject_id: string;
  kind: string;
  requester: string;
  filed_by: string | null;
  evidence_ref: string | null;
  /** Sealed JSON (free text may hold PI). */
  details: Buffer | null;
  jurisdiction: string;
  status: string;
  assignee: string | null;
  received_at: string;
  due_at: string;
  paused_at: string | null;
  paused_ms: number;
  extensions: number;
  refusal_reason: string | null;
  /** Sealed JSON: the answer, remedies. */
  outcome: Buffer | null;
  closed_at: string | null;
  updated_at: string;
}

export interface RightsRequestRecipientsTable {
  request_id: string;
  recipient_id: string;
  status: string;
  notified_at: string;
  confirmed_at: string | null;
}

export interface RightsComplaintsTable {
  id: string;
  subject_id: string;
  filed_by: string;
  details: Buffer;
  /** JSON {traces: string[], incidents: string[]}. */
  links: string;
  status: string;
  assignee: string | null;
  received_at: string;
  due_at: string;
  response: Buffer | null;
  responded_at: string | null;
  escalation: Buffer | null;
  escalated_at: string | null;
  closed_at: string | null;
  updated_at: string;
}

export interface RightsNoticesTable {
  id: string;
  subject_id: string;
  source: string;
  ref: string | null;
  content: Buffer;
  created_at: string;
}

export interface RightsSubjectEntriesTable {
  subject_id: string;
  idx: number;
}

/** The chain head after each of a subject's entries (position 1 = his oldest); migration 0018. */
export interface RightsEntryHeadsTable {
  subject_id: string;
  pos: number;
  idx: number;
  head: Buffer;
}

export interface RightsSubjectHeadsTable {
  subject_id: string;
  bucket: number;
  count: number;
  head: Buffer;
}

export interface RightsSubjectBucketsTable {
  bucket: number;
  hash: Buffer;
}

export interface RightsSubjectCommitsTable {
  size: number;
  tree_root: Buffer;
  map_root: Buffer;
  note: string;
  checkpoint: string;
  created_at: string;
}

export interface RightsTables {
  rights_codes: RightsCodesTable;
  rights_sessions: RightsSessionsTable;
  rights_requests: RightsRequestsTable;
  rights_request_recipients: RightsRequestRecipientsTable;
  rights_complaints: RightsComplaintsTable;
  rights_notices: RightsNoticesTable;
  rights_subject_entries: RightsSubjectEntriesTable;
  rights_subject_heads: RightsSubjectHeadsTable;
  rights_entry_heads: RightsEntryHeadsTable;
  rights_subject_buckets: RightsSubjectBucketsTable;
  rights_subject_commits: RightsSubjectCommitsTable;
}
