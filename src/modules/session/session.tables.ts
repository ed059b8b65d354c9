export interface WebSessionsTable {
  /** Short public id (for listing and revoking); the cookie holds a different, secret token. */
  id: string;
  /** Hex SHA-256 of the session token in the cookie. */
  token_hash: string;
  /** Hex SHA-256 of the CSRF token the browser echoes in a header on state-changing requests. */
  csrf_hash: string;
  actor_id: string;
  /** How it was started: 'api_key' or 'login_link'. */
  method: string;
  created_at: string;
  last_seen_at: string;
  /** Absolute end, whatever the activity. */
  expires_at: string;
  revoked_at: string | null;
}

export interface LoginLinksTable {
  token_hash: string;
  actor_id: string;
  created_at: string;
  expires_at: string;
  used_at: string | null;
}

export interface SessionTables {
  web_sessions: WebSessionsTable;
  login_links: LoginLinksTable;
}
