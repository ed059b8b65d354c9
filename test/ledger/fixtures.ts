import type { AuditEvent } from '../../src/lib/audit.js';

/** Shared by the tests and the crash child process (which must not load vitest). */
export const ORIGIN = 'custodian.test/ledger';

/** A deterministic access event; `n` makes each one distinct. Ids only, as the ledger requires. */
export function event(n: number, run = 'r0'): AuditEvent {
  return {
    kind: n % 7 === 0 ? 'access.denied' : 'access.read',
    actor: `act_${n % 13}`,
    subject: `sub_${run}_${n}`,
    purpose: n % 3 === 0 ? 'billing' : 'customer_support',
    attrs: { view: 'masked', fields: ['mobile'], n },
  };
}

export function events(from: number, count: number, run = 'r0'): AuditEvent[] {
  return Array.from({ length: count }, (_, i) => event(from + i, run));
}
