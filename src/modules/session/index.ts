// The session module's only door: console sign-in sessions, CSRF, one-time login links.
export { registerSessionCommands } from './session.commands.js';
export { sessionError } from './session.errors.js';
export {
  type CookieNames,
  clearSessionCookies,
  cookieNames,
  sessionAuthenticator,
  sessionOf,
} from './session.http.js';
export { sessionRoutes } from './session.routes.js';
export { SessionView, type SessionViewT, type SignIn, SignInBody } from './session.schemas.js';
export {
  createSessions,
  LOGIN_LINK_TTL_MS,
  SESSION_ABSOLUTE_MS,
  SESSION_IDLE_MS,
  type SessionInfo,
  type Sessions,
} from './session.service.js';
