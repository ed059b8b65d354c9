export { type PermissionCheck, type Permissions, permissionsFrom } from './permissions.js';
export { type HttpMethod, type Principal, type RouteContext, type RouteDef, route } from './route.js';
