// The trace module's only door: leaked files, complaints and canary trips → ranked sources.
export { extract, LEAK_FIELDS, type LeakRow, type ParsedLeak, parseLeakFile } from './leakfile.js';
export { formatTrace } from './report.js';
export { type CandidateRef, type Scored, type ScoreInput, score } from './score.js';
export { CANARY_RISK, type CanaryRisk, type CanarySizing, canariesNeeded, hyperTailLog } from './stats.js';
export { parseComplaints, registerTraceCommands } from './trace.commands.js';
export { TRACE_ERRORS, traceError } from './trace.errors.js';
export { traceRoutes } from './trace.routes.js';
export {
  type Complaint,
  createTrace,
  type EvidenceItem,
  type RankedCandidate,
  type Trace,
  type TraceDeps,
  type TraceInput,
  type TraceListItem,
  type TraceResult,
  type TraceSummary,
} from './trace.service.js';
