/**
 * Row types of the vault's tables (migrations 0001_vault, 0007_vault_rows). No column holds plaintext PI: field
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

/**
 * What a subject's row holds besides its metadata (migration 0007_vault_rows): the data key wrapped
 * under KEK `kek_version`, the sealed fields and the blind-index entries the row owns (entry lists,
 * see entries.ts). All four are null once the subject is erased (crypto-shredding).
 */
export interface SubjectStore {
  kek_version: number | null;
  wrapped_key: Buffer | null;
  /** Field name → nonce ‖ ciphertext ‖ tag; associated data binds subject id, field and key version. */
  sealed: Buffer | null;
  /** Field name → blind-index hash, for the searchable fields that hold a value. */
  lookup_keys: Buffer | null;
}

/** One B-tree keyed (field, hash, subject_id): a lookup reads the index alone. */
export interface BlindIndexRow {
  field: string;
  /** HMAC-SHA-256 of the normalised value under a per-field key derived from the index key. */
  hash: Uint8Array;
  subject_id: string;
}

/** Metadata columns: what can be said about a subject without its key or ciphertexts. */
export const SUBJECT_META_COLUMNS = [
  'id',
  'external_id',
  'created_at',
  'updated_at',
  'erased_at',
  'fingerprint',
] as const;
/** Every column of a new subject's row, in insert order. */
export const SUBJECT_COLUMNS = [
  ...SUBJECT_META_COLUMNS,
  'kek_version',
  'wrapped_key',
  'sealed',
  'lookup_keys',
] as const;
export const INDEX_COLUMNS = ['field', 'hash', 'subject_id'] as const;
