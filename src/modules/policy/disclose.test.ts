import { describe, expect, it } from 'vitest';
import { compilePolicy, decideDisclosure, permits } from './compile.js';

// A disclosure is a policy decision like a read: the grant names role, purpose and recipient, with
// assignment and quota conditions. Pure decisions over a compiled policy.
const POLICY = `
name: t
version: "1"
purposes:
  partner_referral: { basis: consent, necessary: false }
disclose:
  - role: partner_manager
    purpose: partner_referral
    recipients: [rcp_a]
    fields: [name, mobile]
    quota: { daily: 100 }
  - role: privacy_officer
    purpose: partner_referral
    recipients: ["*"]
    assignment: false
permissions:
  subjects.erase: [privacy_officer]
`;

describe('disclose grants', () => {
  const p = compilePolicy(POLICY);
  const base = {
    purpose: 'partner_referral',
    recipientId: 'rcp_a',
    fields: ['name'],
    subjects: 10,
    usedToday: 0,
    allAssigned: true,
  };
  it('allows within the grant; refuses another recipient, fields, unassigned subjects and past the quota', () => {
    expect(decideDisclosure(p, { ...base, roles: ['partner_manager'] })).toEqual({
      allowed: true,
      reasons: [],
      quota: 100,
    });
    expect(
      decideDisclosure(p, { ...base, roles: ['partner_manager'], recipientId: 'rcp_b' }).reasons,
    ).toEqual(['NO_GRANT']);
    expect(
      decideDisclosure(p, { ...base, roles: ['partner_manager'], fields: ['id_number'] }).reasons,
    ).toEqual(['FIELDS_DENIED']);
    expect(decideDisclosure(p, { ...base, roles: ['partner_manager'], allAssigned: false }).reasons).toEqual([
      'ASSIGNMENT_REQUIRED',
    ]);
    expect(decideDisclosure(p, { ...base, roles: ['partner_manager'], usedToday: 95 }).reasons).toEqual([
      'QUOTA_EXCEEDED',
    ]);
    expect(
      decideDisclosure(p, { ...base, roles: ['privacy_officer'], recipientId: 'rcp_z', allAssigned: false })
        .allowed,
    ).toBe(true);
    expect(decideDisclosure(p, { ...base, roles: ['telemarketing'] }).reasons).toEqual(['NO_GRANT']);
  });
  it('permissions come from the file, else from the defaults', () => {
    expect(permits(p, ['privacy_officer'], 'subjects.erase')).toBe(true);
    expect(permits(p, ['admin'], 'subjects.erase')).toBe(false);
    expect(permits(p, ['admin'], 'subjects.write')).toBe(true);
    expect(permits(p, ['telemarketing'], 'subjects.history')).toBe(false);
  });
});
