// The access module's only door: the read path (decide → decrypt → view → record).
export { accessError } from './access.errors.js';
export { ACCESS_EVENT_COLUMNS } from './access.repo.js';
export { type AccessRoutesDeps, accessRoutes } from './access.routes.js';
export {
  ACCESS_REASONS,
  type Access,
  type AccessDeps,
  type AccessEvent,
  type AttemptRecord,
  CONTACT_PURPOSE,
  createAccess,
  denialError,
  type FieldResult,
  type GuardItem,
  MAX_BATCH,
  MAX_FIELDS,
  type ReadGuard,
  type ReadRequest,
  type ReadResult,
} from './access.service.js';
export { type ContactTokenClaims, createTokenSealer, TOKEN_PREFIX } from './tokens.js';
