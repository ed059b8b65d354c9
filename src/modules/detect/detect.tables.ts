export interface AlertsTable {
  id: string;
  kind: string;
  severity: string;
  actor_id: string | null;
  subject_id: string | null;
  /** JSON object of ids, counts and codes; never PI. */
  attrs: string;
  status: string;
  created_at: string;
  closed_at: string | null;
}

export interface DetectTables {
  alerts: AlertsTable;
}
