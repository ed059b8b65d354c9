export interface AccessEventRow {
  id: string;
  at: string;
  actor_id: string;
  purpose: string;
  subject_id: string | null;
  /** read | lookup | resolve_token | disclose */
  action: string;
  /** JSON array of field names. */
  fields: string;
  /** JSON object field → view. */
  views: string;
  allowed: number;
  /** JSON array of reason codes. */
  reasons: string;
  request_id: string | null;
  /** Hex SHA-256 leaf hash of this event's ledger entry: the handle for an inclusion proof. */
  leaf_hash: string;
}

export interface AccessTables {
  access_events: AccessEventRow;
}
