export { type Principal, type RouteContext, type RouteDef, route } from './route.js';
export { buildServer, type HttpDeps, openApiDocument, toErrorBody } from './server.js';
