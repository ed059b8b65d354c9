// The rights module's only door: subject portal, rights requests, complaints, notices, completeness.
export {
  bucketOf,
  chainStep,
  decodeCursor,
  encodeCursor,
  HISTORY_FORMAT,
  type HistoryBundle,
  type HistoryPage,
  type HistoryReport,
  MAP_BUCKETS,
  PAGE_FORMAT,
  type PageReport,
  verifyHistory,
  verifyHistoryPage,
  verifyHistoryWalk,
  type WalkReport,
} from './completeness.js';
export {
  addPeriod,
  canExtend,
  complaintDue,
  DEFAULT_RULES,
  dueDate,
  type JurisdictionRule,
  loadRules,
  type Rules,
} from './deadlines.js';
export { registerRightsCommands } from './rights.commands.js';
export { rightsError } from './rights.errors.js';
export { PORTAL_COOKIE, rightsRoutes } from './rights.routes.js';
export {
  type Complaint,
  createRights,
  type History,
  type HistoryEvent,
  type HistoryPageView,
  type Notice,
  PAGE_DEFAULT,
  PAGE_MAX,
  PORTAL_PRINCIPAL,
  REQUEST_KINDS,
  type RequestKind,
  type Rights,
  type RightsDeps,
  type RightsRequest,
  SUBJECT_ACCESS_PURPOSE,
} from './rights.service.js';
