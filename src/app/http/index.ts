export { type Principal, type RouteContext, type RouteDef, route } from '../../lib/http/index.js';
export { buildServer, type HttpDeps, openApiDocument, toErrorBody } from './server.js';
