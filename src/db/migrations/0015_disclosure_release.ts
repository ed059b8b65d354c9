import type { Kysely } from 'kysely';
import type { DialectName } from '../dialect.js';

export const name = '0015_disclosure_release';

/**
 * A disclosure is a policy decision (ADR 0016): each canary planted into an export names the
 * employee who released it, so a trip's alert names the export, the recipient and the releaser;
 * and the daily disclosure quota counts an actor's disclosures for a purpose by creation time.
 */
export async function up(db: Kysely<any>, _dialect: DialectName): Promise<void> {
  await db.schema.alterTable('canaries').addColumn('released_by', 'text').execute();
  await db.schema
    .createIndex('disclosures_by_creator')
    .on('disclosures')
    .columns(['created_by', 'purpose', 'created_at'])
    .execute();
}
