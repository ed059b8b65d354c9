/** Row type of the trace module's table (migration 0011_trace). */
export interface TraceRunRow {
  id: string;
  created_at: string;
  created_by: string | null;
  /** JSON array: which inputs the run had ('file', 'complaints', 'trips'). */
  inputs: string;
  input_format: string | null;
  input_bytes: number;
  /** The uploaded file, AES-256-GCM under a key derived from the key file; null once erased. */
  input_sealed: Buffer | null;
  erase_after: string;
  erased_at: string | null;
  /** JSON: counts (rows, matched, candidates) and the leading candidate. */
  summary: string;
  /** JSON: the ranked candidates with their evidence (pseudonymous ids and ledger handles only). */
  result: string;
}

export interface TraceTables {
  trace_runs: TraceRunRow;
}
