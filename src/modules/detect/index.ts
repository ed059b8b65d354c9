// The detect module's only door: alerts, insider detection (explain, score, suspend), its API and CLI.
export { type DetectConfig, parseDetectConfig } from './config.js';
export { registerDetectCommands } from './detect.commands.js';
export { detectError } from './detect.errors.js';
export { type DetectRoutesDeps, detectRoutes } from './detect.routes.js';
export {
  ALERT_STATES,
  type Alert,
  type AlertAction,
  type AlertInput,
  type AlertState,
  type CaseSource,
  createDetect,
  type Detect,
  type DetectDeps,
  type EvidenceItem,
  type GuardItem,
  type GuardOutcome,
  type Severity,
  type Suspension,
} from './detect.service.js';
export {
  COLD_START,
  createEngine,
  DETECTORS,
  type DetectorName,
  type Engine,
  EXPLANATIONS,
  type Explanation,
  type Finding,
  type Observation,
} from './engine.js';
