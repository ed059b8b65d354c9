export { type HttpMethod, type Principal, type RouteContext, type RouteDef, route } from './route.js';
