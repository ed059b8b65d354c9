import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/errors.js';
import { parseAssignmentCsv } from './csv.js';

describe('assignment CSV', () => {
  it('reads actor, subject, external id and expiry, with line numbers', () => {
    const rows = parseAssignmentCsv(
      '\uFEFFActor , subject_id, expires_at\nemp-1,sub_a,2030-01-01T00:00:00Z\n\nact_x, sub_b ,\n',
    );
    expect(rows).toEqual([
      { line: 2, actor: 'emp-1', subjectId: 'sub_a', expiresAt: '2030-01-01T00:00:00Z' },
      { line: 4, actor: 'act_x', subjectId: 'sub_b' },
    ]);
    expect(parseAssignmentCsv('actor_name,external_id\nemp-2,CRM-77\n')).toEqual([
      { line: 2, actor: 'emp-2', externalId: 'CRM-77' },
    ]);
  });

  it('an empty file or a header alone is no rows', () => {
    expect(parseAssignmentCsv('')).toEqual([]);
    expect(parseAssignmentCsv('actor,subject\n')).toEqual([]);
  });

  it.each([
    ['no actor column', 'who,subject\nx,y\n'],
    ['no subject column', 'actor,when\nx,y\n'],
    ['unbalanced quotes', 'actor,subject\n"x,y\n'],
  ])('refuses %s without echoing its values', (_what, text) => {
    try {
      parseAssignmentCsv(text);
      expect.unreachable();
    } catch (e) {
      expect(isAppError(e) && e.code).toBe('ACTORS_CSV_INVALID');
      expect(JSON.stringify((e as { details?: unknown }).details)).not.toMatch(/"(x|y|who|when)"/);
    }
  });
});
