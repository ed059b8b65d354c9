import { describe, expect, it } from 'vitest';
import { isAppError } from '../../lib/errors.js';
import { compilePolicy } from './compile.js';
import { type PolicyIssue, parsePolicy } from './schema.js';

const BASE = `name: t
version: 1
purposes:
  sales:
    basis: contract
    necessary: true
grants:
  - role: seller
    purpose: sales
    fields:
      name: masked
`;

function issuesOf(text: string): PolicyIssue[] {
  try {
    parsePolicy(text);
  } catch (e) {
    if (isAppError(e) && e.code === 'POLICY_INVALID') return e.details?.issues as PolicyIssue[];
    throw e;
  }
  throw new Error('expected POLICY_INVALID');
}

describe('policy file validation', () => {
  it('accepts a minimal policy and fills the strict defaults', () => {
    const doc = parsePolicy(BASE);
    expect(doc.version).toBe('1');
    expect(doc.timezone).toBe('Asia/Shanghai');
    expect(doc.grants[0]).toMatchObject({ assignment: true, approval: false });
    const p = compilePolicy(BASE);
    expect(p.grants[0]!.defaultView).toBe('deny');
    expect(p.grants[0]!.consent).toBe(false);
  });

  it('consent is required by default when the purpose rests on consent, and a waiver is marked', () => {
    const text = BASE.replace('basis: contract', 'basis: consent');
    expect(compilePolicy(text).grants[0]!.consent).toBe(true);
    const waived = compilePolicy(`${text}    consent: false\n`);
    expect(waived.grants[0]!.consent).toBe(false);
    expect(waived.grants[0]!.consentWaived).toBe(true);
  });

  it.each([
    [
      'an unknown view',
      BASE.replace('name: masked', 'name: visible'),
      'grants[0].fields.name',
      11,
      /deny, masked, token, plain/,
    ],
    ['a misspelt key', `${BASE}    assigment: false\n`, 'grants[0].assigment', 12, /unknown key/],
    [
      'an undeclared purpose',
      BASE.replace('purpose: sales', 'purpose: billing'),
      'grants[0].purpose',
      9,
      /not declared/,
    ],
    [
      'a basis PIPL does not know',
      BASE.replace('basis: contract', 'basis: legitimate_interest'),
      'purposes.sales.basis',
      5,
      /PIPL/,
    ],
    [
      'a missing necessary flag',
      BASE.replace('    necessary: true\n', ''),
      'purposes.sales.necessary',
      4,
      /necessary or optional/,
    ],
    [
      'a bad time zone',
      BASE.replace('version: 1', 'version: 1\ntimezone: Mars/Olympus'),
      'timezone',
      3,
      /IANA/,
    ],
    ['a bad hour', `${BASE}    hours: { from: "9am", to: "21:00" }\n`, 'grants[0].hours.from', 12, /HH:MM/],
    [
      'an empty window',
      `${BASE}    hours: { from: "09:00", to: "09:00" }\n`,
      'grants[0].hours',
      12,
      /differ/,
    ],
    ['a zero quota', `${BASE}    quota: { daily: 0 }\n`, 'grants[0].quota.daily', 12, /./],
    ['a missing version', BASE.replace('version: 1\n', ''), 'version', undefined, /required/],
    [
      'a bad role name',
      BASE.replace('role: seller', 'role: Sales Team'),
      'grants[0].role',
      8,
      /lower_snake_case/,
    ],
  ])('names the path and line of %s', (_what, text, path, line, problem) => {
    const issues = issuesOf(text);
    const issue = issues.find((i) => i.path === path);
    expect(issue, JSON.stringify(issues)).toBeDefined();
    if (line !== undefined) expect(issue!.line).toBe(line);
    expect(issue!.problem).toMatch(problem);
  });

  it('refuses two grants for the same role and purpose', () => {
    const text = `${BASE}  - role: seller\n    purpose: sales\n    fields: { mobile: token }\n`;
    expect(issuesOf(text)).toEqual([
      expect.objectContaining({ path: 'grants[1]', problem: expect.stringMatching(/grants\[0\]/) }),
    ]);
  });

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(issuesOf('name: t\nname: u\n')[0]).toMatchObject({
      path: '(yaml)',
      line: 2,
      problem: 'duplicate key',
    });
    expect(issuesOf('name: [unclosed\n')[0]).toMatchObject({ path: '(yaml)' });
  });

  it('refuses alias bombs and oversized files', () => {
    const bomb = ['a: &a [x,x,x,x,x,x,x,x,x,x]'];
    for (let i = 0; i < 8; i++)
      bomb.push(
        `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(97 + i)}`)
          .join(',')}]`,
      );
    expect(issuesOf(bomb.join('\n'))[0]!.problem).toMatch(/alias/);
    expect(issuesOf(`# ${'x'.repeat(300 * 1024)}\n${BASE}`)[0]!.problem).toMatch(/larger/);
  });

  it('an empty document is invalid, not a permissive policy', () => {
    expect(issuesOf('').map((i) => i.path)).toEqual(expect.arrayContaining(['name', 'version', 'purposes']));
  });
});
