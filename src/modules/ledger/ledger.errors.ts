import { defineErrors } from '../../lib/errors.js';

/**
 * Ledger error codes (documented in docs/errors.md, section "ledger"). Messages and details carry
 * counts, indexes and sizes only: the ledger holds pseudonymous ids, and never echoes them back.
 */
export const ledgerError = defineErrors({
  LEDGER_EVENT_INVALID: { status: 400, message: 'The audit event cannot be encoded as a ledger entry.' },
  LEDGER_ENTRY_TOO_LARGE: { status: 400, message: 'The encoded ledger entry is larger than 65535 bytes.' },
  LEDGER_ENTRY_MALFORMED: { status: 422, message: 'The bytes are not a canonical ledger entry.' },
  LEDGER_QUERY_INVALID: { status: 400, message: 'Give exactly one of index or leaf hash.' },
  LEDGER_INDEX_OUT_OF_RANGE: { status: 404, message: 'No entry at that index in a tree of that size.' },
  LEDGER_SIZE_OUT_OF_RANGE: { status: 400, message: 'The requested tree size is not available.' },
  LEDGER_LEAF_NOT_FOUND: { status: 404, message: 'No entry with that leaf hash.' },
  LEDGER_LEAF_PENDING: {
    status: 409,
    message: 'The entry is not integrated into the tree yet; retry shortly.',
  },
  LEDGER_TILE_PATH_INVALID: { status: 400, message: 'The tile path is not a valid tlog-tiles path.' },
  LEDGER_TILE_NOT_FOUND: { status: 404, message: 'That tile is not available at the current tree size.' },
  LEDGER_CONFLICT: { status: 409, message: 'Another sequencer advanced the ledger concurrently; retry.' },
  LEDGER_INCONSISTENT: {
    status: 500,
    message: 'The ledger storage is not consistent; refusing to sign. Run `custodian ledger verify`.',
  },
  LEDGER_CHECKPOINT_INVALID: {
    status: 400,
    message: 'The checkpoint is not a valid signed note for this log.',
  },
  LEDGER_KEY_INVALID: { status: 400, message: 'The verifier key is not a valid Ed25519 note key.' },
  LEDGER_WITNESS_FETCH_FAILED: {
    status: 502,
    message: 'The log could not be reached or answered with an error.',
  },
  LEDGER_WITNESS_STATE_INVALID: { status: 400, message: 'The witness state file is not valid.' },
  LEDGER_SPLIT_VIEW: {
    status: 409,
    message: 'The log presented a checkpoint that is not consistent with one seen before.',
  },
});
