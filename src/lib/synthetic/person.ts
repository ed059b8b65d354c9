import { secureFloat, secureInt } from '../crypto/index.js';
import {
  address,
  type CompanyProfile,
  companyProfile,
  email,
  ID_BANDS,
  type IdParts,
  idNumberFromSlot,
  mobileSegment,
  type PersonName,
  personName,
  pickIdBand,
  weightedPrefecture,
} from './identity.js';
import { type Random, Rng, type StreamKey } from './prng.js';
import type { Prefecture } from './tables.js';

/**
 * Whole people, built from the single-attribute generators in identity.ts. The simulator (seeded,
 * reproducible, unique by keyed permutations) and the canaries (CSPRNG, unique by checking the
 * vault) share `personAround`, so a canary is drawn from exactly the distribution customers are.
 */

/**
 * The person around an ID number: a name suited to sex and age, an employer (about nine in ten
 * have one) and a home. Draw order is part of the simulator's determinism contract: name, then
 * employer, then home.
 */
export function personAround(
  random: Random,
  id: IdParts,
  employer: (random: Random) => CompanyProfile | null,
): { name: PersonName; employer: CompanyProfile | null; home: Prefecture } {
  const name = personName(random, id.male, id.birthYear);
  const job = employer(random);
  // People mostly live where they work; otherwise where they were registered at birth, or anywhere.
  const r = random.float();
  const home = job && r < 0.7 ? job.prefecture : r < 0.85 ? id.prefecture : weightedPrefecture(random);
  return { name, employer: job, home };
}

/**
 * Companies customers work for: a fixed pool per key, drawn with a square-law skew so that
 * low-numbered companies are large employers and most are small (so names repeat across people as
 * they do among real customers).
 */
export const COMPANY_POOL = 2_000_000;

/** An employer from the pool keyed by `companyKey` (null: about one in ten has none). */
export function pickEmployer(
  random: Random,
  companyKey: StreamKey,
  scratch: Rng = new Rng(),
): { index: number; profile: CompanyProfile } | null {
  if (!random.chance(0.9)) return null;
  const index = Math.floor(COMPANY_POOL * random.float() ** 2);
  return { index, profile: companyProfile(scratch.reseed(companyKey, index)) };
}

/** The customer-shaped fields of a synthetic person (what a subject holds besides its id). */
export interface SyntheticIdentity {
  readonly name: string;
  readonly mobile: string;
  readonly email: string;
  readonly company: string;
  readonly id_number: string;
  readonly address: string;
}

/**
 * A synthetic identity drawn entirely from `random`, from the same distributions as the
 * simulator's customers: ID number with a valid GB 11643 check character in a birth band weighted
 * like theirs, name, employer from the keyed company pool, home, a mobile under a real carrier
 * segment in the carriers' shares, an e-mail in the shapes and at the providers they use. Nothing
 * marks it: uniqueness against real subjects is the caller's to check (the canaries look each
 * draw up in the vault's blind index and draw again on a hit).
 */
export function randomIdentity(random: Random, companyKey: StreamKey): SyntheticIdentity {
  const b = pickIdBand(random);
  const band = ID_BANDS[b]!;
  const id = idNumberFromSlot(band.first + random.int(band.size));
  const p = personAround(random, id, (r) => pickEmployer(r, companyKey)?.profile ?? null);
  const mobile = mobileSegment(random) + String(random.int(100_000_000)).padStart(8, '0');
  return {
    name: p.name.han,
    mobile,
    email: email(random, p.name, id.male, id.birthYear),
    company: p.employer?.name ?? '',
    id_number: id.idNumber,
    address: address(random, p.home),
  };
}

/** The CSPRNG as a `Random` (node:crypto through src/lib/crypto): nothing to seed, nothing to replay. */
export const secureRandom: Random = {
  float: secureFloat,
  int: secureInt,
  range: (lo, hi) => lo + secureInt(hi - lo + 1),
  chance: (p) => secureFloat() < p,
  pick: (items) => items[secureInt(items.length)]!,
};
