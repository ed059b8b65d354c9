// Types for scripts/fuzz-cases.mjs (used by test/app/fuzz.security.test.ts).
export interface FuzzOperation {
  method: string;
  path: string;
  params: string[];
  query: string[];
  body: boolean;
}
export interface FuzzRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS' | 'HEAD';
  url: string;
  headers: Record<string, string>;
  body?: string;
}
export function prng(seed: number): () => number;
export function operations(openapi: unknown): FuzzOperation[];
export function fuzzRequest(
  seed: number,
  i: number,
  ops: readonly FuzzOperation[],
  keys: readonly string[],
  ids?: readonly string[],
): FuzzRequest;
export function leaksInternals(text: string): boolean;
export function looksLikePi(text: string): boolean;
export const PI_SHAPES: readonly RegExp[];
export function piByDesign(method: string, url: string): boolean;
