import { expect } from 'vitest';
import { type AccessEvent, denialError, type ReadResult } from '../../src/modules/access/index.js';
import { verifyInclusion } from '../../src/modules/ledger/index.js';
import type { World } from './fixtures.js';

const hex = (h: string) => Buffer.from(h, 'hex');

/** The access event a read result names (by its leaf hash), from the subject's history. */
export async function eventOf(w: World, r: Pick<ReadResult, 'subject' | 'evidence'>): Promise<AccessEvent> {
  const evs = await w.app.access.history(r.subject, { limit: 5000 });
  const e = evs.find((x) => x.leafHash === r.evidence);
  expect(e, `access event for ${r.evidence}`).toBeDefined();
  return e!;
}

/**
 * Integrates the ledger, then proves each leaf is in the tree with the ledger's own verifier, and
 * returns the decoded entries (what an outside verifier would see).
 */
export async function provenEntries(w: World, leafHashes: readonly string[]) {
  await w.app.access.drain();
  await w.app.ledger.integrate();
  const out = [];
  for (const leaf of leafHashes) {
    const p = await w.app.ledger.inclusionProof({ leafHash: leaf });
    expect(p.leafHash).toBe(leaf);
    expect(
      verifyInclusion({
        index: p.index,
        size: p.size,
        leafHash: hex(leaf),
        proof: p.proof.map(hex),
        root: hex(p.root),
      }),
      `inclusion of ${leaf}`,
    ).toBe(true);
    const [entry] = await w.app.ledger.entries(p.index, 1);
    expect(entry!.leafHash).toBe(leaf);
    out.push(entry!.event);
  }
  return out;
}

/** The HTTP code a denied read gets. */
export const codeOf = (r: ReadResult) => (r.allowed ? undefined : denialError(r).code);

/** Digits of a phone number, for comparing a normalised value to the generated one. */
export const digits = (s: string) => s.replace(/\D/g, '');
