export { type Principal, type RouteContext, type RouteDef, route } from '../../lib/http/index.js';
export {
  API_CSP,
  buildServer,
  DEFAULT_CSP,
  DEFAULT_HTTP_LIMITS,
  type HttpDeps,
  type HttpLimits,
  openApiDocument,
  SPA_CSP,
  toErrorBody,
} from './server.js';
export { registerWeb, WEB_CSP, webRoot } from './web.js';
