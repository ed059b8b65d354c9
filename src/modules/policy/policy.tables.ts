/** Row types of the policy module's tables (migration 0002_actors_policy), snake_case as stored. */
export interface PolicyVersionRow {
  seq: number;
  version: string;
  name: string;
  hash: string;
  body: string;
  loaded_at: string;
  loaded_by: string | null;
}

export interface QuotaUsageRow {
  actor_id: string;
  purpose: string;
  day: string;
  subject_id: string;
  first_at: string;
}

export interface QuotaCounterRow {
  actor_id: string;
  purpose: string;
  day: string;
  used: number;
}

export interface GrantUsageRow {
  role: string;
  purpose: string;
  field: string;
  view: string;
  via: string;
  day: string;
}

export type ApprovalStatus = 'pending' | 'approved' | 'rejected';

export interface ApprovalRow {
  id: string;
  requested_by: string;
  purpose: string;
  requested_subjects: number | null;
  requested_hours: number | null;
  reason: string;
  status: ApprovalStatus;
  requested_at: string;
  decided_by: string | null;
  decided_at: string | null;
  expires_at: string | null;
  remaining: number | null;
}
