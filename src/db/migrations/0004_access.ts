import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

// Placeholder until the module that owns it fills it in; not shipped yet.
export const name = '0004_access';
export async function up(_db: Kysely<any>, _dialect: DialectName): Promise<void> {}
