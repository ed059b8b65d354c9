// The incidents module's only door: breach response scoped from the ledger, on the legal clocks.
export { type AffectedLine, listLine } from './affected.js';
export {
  CLOCKS,
  type ClockName,
  type ClockState,
  clockState,
  DEFAULT_RULES,
  formatLeft,
  GRADES,
  type Grade,
  gradeFor,
  type IncidentRules,
  planClocks,
  rulesWith,
} from './grading.js';
export { registerIncidentsCommands } from './incidents.commands.js';
export { incidentsError } from './incidents.errors.js';
export { incidentsRoutes } from './incidents.routes.js';
export {
  ACTION_KINDS,
  type ActionKind,
  createIncidents,
  type Incident,
  type IncidentDetail,
  type Incidents,
  type IncidentsDeps,
  type Message,
  type MessageGateway,
  type OpenInput,
  type ScopeCriteria,
  type ScopeSummary,
  type SubjectNotice,
  scopeNoteBody,
} from './incidents.service.js';
export { type IncidentFacts, type NoticeDraft, PIPL57_ITEMS } from './notices.js';
export { renderReport } from './report.js';
