// The actors module's only door: principals, API keys, assignments.
export { registerActorsCommands } from './actors.commands.js';
export { actorsError } from './actors.errors.js';
export { type ActorsRoutesDeps, actorsRoutes, MAX_ASSIGNMENTS_PER_REQUEST } from './actors.routes.js';
export {
  type Actors,
  type ActorsDeps,
  type Assignment,
  type AssignmentInput,
  type AssignmentRejection,
  type AssignResult,
  createActors,
  ensureAdmin,
  MAX_ASSIGNMENTS_PER_BATCH,
  toPrincipal,
  type UnassignResult,
} from './actors.service.js';
export { type AssignmentEntry, parseAssignmentCsv } from './csv.js';
export {
  ACTOR_KINDS,
  type Actor,
  type ActorKind,
  type ActorPatch,
  type ActorStatus,
  ADMIN_ROLE,
  type ApiKeyInfo,
  KNOWN_ROLES,
  type NewActor,
} from './model.js';
