// The ledger module's only door: RFC 9162 Merkle log of audit events, C2SP tiles and checkpoints.
export { decodeEntry, ENTRY_VERSION, encodeEntry, type LedgerEvent, MAX_ENTRY_BYTES } from './entry.js';
// The benchmark's one-core verification figure: hash on the calling thread.
export { setHashWorkers } from './hashpool.js';
export { registerLedgerCommands } from './ledger.commands.js';
export { ledgerError } from './ledger.errors.js';
export { ledgerRoutes } from './ledger.routes.js';
export {
  type AppendResult,
  type Checkpoint,
  type ConsistencyProof,
  createLedger,
  type InclusionProof,
  type IntegrateResult,
  type Ledger,
  type LedgerDeps,
  type LedgerEntry,
  type SequencerOptions,
} from './ledger.service.js';
export {
  EMPTY_ROOT,
  leafHash,
  nodeHash,
  rootFromEntries,
  rootFromLeafHashes,
  verifyConsistency,
  verifyInclusion,
} from './merkle.js';
export {
  checkpointBody,
  formatVkey,
  type NoteVerifier,
  type ParsedCheckpoint,
  parseCheckpoint,
  parseVkey,
  signNote,
  verifyCheckpoint,
} from './note.js';
export { createLedgerProver, type LedgerProver, type ProvenEntry } from './prover.js';
export { parseTilePath, tilePath } from './tiles.js';
export type { ProblemKind, VerifyOptions, VerifyProblem, VerifyReport } from './verify.js';
