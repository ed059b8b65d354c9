import { defineErrors } from '../../lib/errors.js';

/**
 * Vault, import and key-rotation errors. Messages and details never carry a field value: details
 * name fields, counts, row numbers and ids only (docs/errors.md, section "vault").
 */
export const VAULT_ERRORS = {
  VAULT_SUBJECT_NOT_FOUND: { status: 404, message: 'No such subject.' },
  VAULT_SUBJECT_ERASED: { status: 410, message: 'The subject was erased; its data can no longer be read.' },
  VAULT_EXTERNAL_ID_TAKEN: { status: 409, message: 'A subject with this external id already exists.' },
  VAULT_EXTERNAL_ID_INVALID: {
    status: 400,
    message: 'The external id must be 1-128 letters, digits or . _ : - and must not be personal information.',
  },
  VAULT_FIELD_UNKNOWN: { status: 400, message: 'The field is not in the field catalog.' },
  VAULT_FIELD_NOT_SEARCHABLE: {
    status: 400,
    message: 'The field has no blind index; it cannot be looked up.',
  },
  VAULT_NO_FIELDS: { status: 400, message: 'No field values were given.' },
  VAULT_VALUE_EMPTY: { status: 400, message: 'The value is empty.' },
  VAULT_VALUE_TOO_LONG: { status: 400, message: 'The value is longer than its field type allows.' },
  VAULT_VALUE_MALFORMED: {
    status: 400,
    message: 'The value does not have the form its field type requires.',
  },
  VAULT_VALUE_FORMULA: {
    status: 400,
    message: 'The value starts with "=", which a company name or address never does.',
  },
  VAULT_PHONE_INVALID: {
    status: 400,
    message: 'The value is not a valid phone number of the required kind.',
  },
  VAULT_EMAIL_INVALID: { status: 400, message: 'The value is not a valid e-mail address.' },
  VAULT_ID_REGION_INVALID: { status: 400, message: 'The ID number does not start with a valid region code.' },
  VAULT_ID_BIRTH_DATE_INVALID: {
    status: 400,
    message: 'The ID number does not hold a real birth date that is not in the future.',
  },
  VAULT_ID_CHECK_DIGIT_INVALID: { status: 400, message: 'The ID number check character is wrong.' },
  VAULT_USCC_CHECK_INVALID: {
    status: 400,
    message: 'The unified social credit code check character is wrong.',
  },
  VAULT_CARD_CHECK_INVALID: { status: 400, message: 'The card number fails the Luhn check.' },
  VAULT_DATE_INVALID: { status: 400, message: 'The value is not a real calendar date (YYYY-MM-DD).' },
  VAULT_CATALOG_INVALID: { status: 500, message: 'The field catalog is not valid.' },
  VAULT_KEY_UNAVAILABLE: {
    status: 500,
    message: 'The key file lacks the key version a data key was wrapped with.',
  },
  VAULT_DECRYPT_FAILED: {
    status: 500,
    message: 'A stored value failed authentication and was not returned.',
  },

  IMPORT_FILE_UNREADABLE: { status: 400, message: 'The import file cannot be read.' },
  IMPORT_HEADER_MISSING: { status: 400, message: 'The file has no readable header line.' },
  IMPORT_HEADER_NO_EXTERNAL_ID: { status: 400, message: 'The header has no external_id column.' },
  IMPORT_HEADER_UNKNOWN_COLUMN: {
    status: 400,
    message: 'The header names a column that is not a catalog field.',
  },
  IMPORT_HEADER_DUPLICATE_COLUMN: { status: 400, message: 'The header names a column twice.' },
  IMPORT_ROW_MALFORMED: { status: 400, message: 'The row is not well-formed CSV (quotes).' },
  IMPORT_ROW_COLUMN_COUNT: {
    status: 400,
    message: 'The row has a different number of columns than the header.',
  },
  IMPORT_CELL_TOO_LARGE: { status: 400, message: 'A cell is larger than the import limit.' },
  IMPORT_CELL_ENCODING: { status: 400, message: 'A cell is not valid UTF-8.' },
  IMPORT_EXTERNAL_ID_MISSING: { status: 400, message: 'The row has no external id.' },
  IMPORT_DUPLICATE_IN_FILE: { status: 400, message: 'An earlier row of the same file has this external id.' },
  IMPORT_ABORTED: {
    status: 500,
    message: 'The import stopped on a database error; committed batches remain.',
  },

  KEYS_NO_KEY_FILE: { status: 500, message: 'Key rotation needs a keyring loaded from a key file.' },
  KEYS_UNWRAP_FAILED: {
    status: 500,
    message: 'Some data keys could not be unwrapped; old key versions were kept.',
  },
  KEYS_ROTATION_INCOMPLETE: {
    status: 500,
    message: 'Data keys under old key versions remain after rewrapping; old versions were kept.',
  },
} as const;

export const vaultError = defineErrors(VAULT_ERRORS);

export type VaultErrorCode = keyof typeof VAULT_ERRORS;
