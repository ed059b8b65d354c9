/** Row types of the consent module's tables (migration 0005_consent_disclosure). */
export interface NoticesTable {
  id: string;
  key: string;
  version: number;
  language: string;
  body: string;
  sha256: string;
  /** JSON NoticeDeclarations. */
  declarations: string;
  recipient_id: string | null;
  published_at: string;
  published_by: string | null;
}

export interface ConsentsTable {
  id: string;
  subject_id: string;
  purpose: string;
  recipient_id: string | null;
  /** JSON array of field names. */
  fields: string;
  notice_id: string;
  notice_sha256: string;
  method: string;
  given_by: string;
  given_at: string;
  expires_at: string | null;
  withdrawn_at: string | null;
  withdrawal_method: string | null;
  withdrawn_by: string | null;
  /** 0/1 flags: separate consent (单独同意) for sensitive PI, a third party, a transfer abroad. */
  sep_sensitive: number;
  sep_third_party: number;
  sep_cross_border: number;
  evidence_ref: string | null;
  source: string;
  import_id: string | null;
  recorded_at: string;
  recorded_by: string | null;
}

export interface ConsentTables {
  notices: NoticesTable;
  consents: ConsentsTable;
}
