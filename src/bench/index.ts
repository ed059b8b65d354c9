import type { BenchSuite } from './types.js';

/** Every suite `custodian bench` knows, in the order it runs them. */
export const suites: BenchSuite[] = [];
