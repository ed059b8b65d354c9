export { type Principal, type RouteContext, type RouteDef, route } from '../../lib/http/index.js';
export { buildServer, type HttpDeps, openApiDocument, toErrorBody } from './server.js';
export { registerWeb, WEB_CSP, webRoot } from './web.js';
