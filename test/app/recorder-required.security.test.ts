/**
 * Threat: auditing switched off by leaving out a dependency. When the recorder was optional
 * (`record?:`, `deps.record?.(…)`), a service built without it read, disclosed or changed state with
 * no ledger entry, silently — the disclosure benchmark relied on exactly that. The recorder is now
 * required by every service's type (not `Recorder | undefined`), and each factory refuses to build
 * without one at run time, so a caller that gets around the type (plain JavaScript, `as any`) cannot
 * construct an unaudited reader either.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Recorder } from '../../src/lib/audit.js';
import { type AccessDeps, createAccess } from '../../src/modules/access/index.js';
import { type ActorsDeps, createActors } from '../../src/modules/actors/index.js';
import { type ConsentDeps, createConsent } from '../../src/modules/consent/index.js';
import { createDetect, type DetectDeps } from '../../src/modules/detect/index.js';
import {
  type CanaryDeps,
  createDisclosure,
  type DisclosureDeps,
} from '../../src/modules/disclosure/index.js';
import { createPolicyService, type PolicyServiceDeps } from '../../src/modules/policy/index.js';
import { createVault, type VaultDeps } from '../../src/modules/vault/index.js';

describe('the audit recorder is required', () => {
  it('is a required, non-optional dependency in every service type', () => {
    expectTypeOf<AccessDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<ActorsDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<ConsentDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<DetectDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<DisclosureDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<CanaryDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<PolicyServiceDeps['record']>().toEqualTypeOf<Recorder>();
    expectTypeOf<VaultDeps['record']>().toEqualTypeOf<Recorder>();
    // Leaving it out is a compile error, not a silent default.
    // @ts-expect-error record is required
    const noRecord: Pick<DisclosureDeps, 'record'> = {};
    expect(noRecord).toEqual({});
  });

  const factories: [string, (deps: any) => unknown][] = [
    ['disclosure', createDisclosure],
    ['access (the read path)', createAccess],
    ['actors', createActors],
    ['consent', createConsent],
    ['detect', createDetect],
    ['policy', createPolicyService],
    ['vault', createVault],
  ];
  for (const [name, create] of factories) {
    it(`a ${name} service without a recorder cannot be constructed`, () => {
      expect(() => create({})).toThrow(/audit recorder is required/);
      expect(() => create({ record: undefined })).toThrow(/audit recorder is required/);
    });
  }
});
