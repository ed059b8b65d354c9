// Synthetic identities (the only door): the generators the simulator (seeded, src/modules/sim) and
// the canaries (CSPRNG, src/modules/disclosure) share, so both draw from one distribution.
export * from './identity.js';
export * from './person.js';
export * from './prng.js';
export * from './tables.js';
