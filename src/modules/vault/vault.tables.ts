/**
 * Row types of the vault's tables (migration 0001_vault). No column holds plaintext PI: field
 * values are AES-256-GCM ciphertexts, lookups go through keyed hashes, and keys live in the key
 * file only.
 */
export interface SubjectRow {
  /** Pseudonymous id (`sub_` + 128 random bits). */
  id: string;
  /** The organisation's own key for the person; must not itself be PI (checked on input). */
  external_id: string;
  created_at: string;
  updated_at: string;
  erased_at: string | null;
  /**
   * Keyed hash (blind-index key, pseudo-field '#record') of the whole normalised record, so a
   * re-import can tell "unchanged" from "changed" without decrypting. Cleared on erasure.
   */
  fingerprint: Buffer | null;
}

export interface SubjectKeyRow {
  subject_id: string;
  /** Which KEK version wrapped this data key; rotation rewrites it. */
  kek_version: number;
  wrapped_key: Uint8Array;
}

export interface SubjectFieldRow {
  subject_id: string;
  field: string;
  /** nonce ‖ ciphertext ‖ tag; associated data binds subject id, field and key version. */
  ciphertext: Uint8Array;
}

export interface BlindIndexRow {
  field: string;
  /** HMAC-SHA-256 of the normalised value under a per-field key derived from the index key. */
  hash: Uint8Array;
  subject_id: string;
}

export const SUBJECT_COLUMNS = [
  'id',
  'external_id',
  'created_at',
  'updated_at',
  'erased_at',
  'fingerprint',
] as const;
export const KEY_COLUMNS = ['subject_id', 'kek_version', 'wrapped_key'] as const;
export const FIELD_COLUMNS = ['subject_id', 'field', 'ciphertext'] as const;
export const INDEX_COLUMNS = ['field', 'hash', 'subject_id'] as const;
