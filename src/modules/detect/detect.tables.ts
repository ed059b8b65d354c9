export interface AlertsTable {
  id: string;
  kind: string;
  severity: string;
  actor_id: string | null;
  subject_id: string | null;
  /** JSON object of ids, counts and codes; never PI. */
  attrs: string;
  /** open, acknowledged, true_positive, false_positive, resolved (and `closed` from before 0010). */
  status: string;
  created_at: string;
  closed_at: string | null;
  /** The detector that raised it (null for break-glass and canary alerts). */
  detector: string | null;
  assignee: string | null;
  /** The investigator's reason for the last verdict. */
  reason: string | null;
  updated_at: string | null;
  /** JSON array of ledger leaf hashes (the events behind the alert). */
  evidence: string | null;
}

export interface SuspensionsTable {
  id: string;
  actor_id: string;
  mode: string;
  status: string;
  alert_id: string | null;
  reason: string;
  created_by: string | null;
  created_at: string;
  lifted_by: string | null;
  lifted_at: string | null;
  lift_reason: string | null;
}

export interface SuppressionsTable {
  id: string;
  actor_id: string;
  detector: string;
  reason: string;
  alert_id: string | null;
  created_by: string | null;
  created_at: string;
  expires_at: string;
}

export interface DailyTable {
  day: string;
  actor_id: string;
  role: string;
  reads: number;
  explained: number;
  subjects: number;
  unexplained_subjects: number;
  off_hours: number;
  denied: number;
}

export interface DetectTables {
  alerts: AlertsTable;
  detect_suspensions: SuspensionsTable;
  detect_suppressions: SuppressionsTable;
  detect_daily: DailyTable;
}
