/** Row types of the actors module's tables (migration 0002_actors_policy), snake_case as stored. */
export interface ActorRow {
  id: string;
  name: string;
  kind: string;
  /** JSON array of role names. */
  roles: string;
  /** JSON object of attribute strings. */
  attributes: string;
  status: 'active' | 'disabled';
  created_at: string;
  created_by: string | null;
  disabled_at: string | null;
}

export interface ApiKeyRow {
  id: string;
  actor_id: string;
  /** SHA-256 of the whole token. */
  hash: Uint8Array;
  created_at: string;
  expires_at: string | null;
  revoked_at: string | null;
}

export interface AssignmentRow {
  actor_id: string;
  subject_id: string;
  assigned_at: string;
  assigned_by: string | null;
  expires_at: string | null;
  removed_at: string | null;
}

/** A four-eyes request (migration 0008_four_eyes): an actor change that waits for a second administrator. */
export interface ActorRequestRow {
  id: string;
  /** 'create' (a new actor) or 'update' (roles granted to an existing one). */
  action: 'create' | 'update';
  target_id: string | null;
  /** JSON of the NewActor or ActorPatch, as validated. */
  payload: string;
  /** JSON array: the requested roles whose policy allows plain personal information. */
  privileged_roles: string;
  status: 'pending' | 'approved' | 'rejected';
  requested_by: string;
  requested_at: string;
  decided_by: string | null;
  decided_at: string | null;
  result_actor_id: string | null;
}
