import { permissionsFrom } from '../../src/lib/http/index.js';
import { permitsAction } from '../../src/modules/policy/index.js';

/** The permissions of a policy file without a `permissions:` section (the default roles). */
export const defaultPermissions = permissionsFrom((roles, action) => permitsAction(undefined, roles, action));
