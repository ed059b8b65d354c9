/**
 * Shapes of personal information in text: a mainland mobile (optionally +86), an 18-character
 * resident ID number, an e-mail address. Used by the HTTP error mapper's last guard, which masks
 * any such shape in an error body before it leaves (the fix belongs at the source: errors carry
 * codes and positions, never values; the guard counts how often it fires, so a regression shows).
 * UUIDs and long hex runs (request ids, hashes) are left alone: their digit runs are not PI; so
 * is a number's fraction (`0.047619047619047616`, a share in a JSON answer, is not an ID number).
 * scripts/fuzz-cases.mjs has the same shapes for the fuzz run; test/app/echo.security.test.ts
 * checks that the two agree.
 */
export const PI_SHAPES: readonly RegExp[] = [
  /(?<!\d)(?<!\d\.)(?:\+?86[-\s]?)?1[3-9]\d{9}(?!\d)/g,
  /(?<![0-9A-Za-z])(?<!\d\.)\d{17}[0-9Xx](?![0-9A-Za-z])/g,
  /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g,
];

const NOT_PI = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32,}/gi;

export const MASK = '[masked]';

/** `s` with every PI shape replaced by [masked], and how many were. */
export function maskPiText(s: string): { value: string; masked: number } {
  let masked = 0;
  let out = '';
  let last = 0;
  const maskPart = (part: string) => {
    let p = part;
    for (const re of PI_SHAPES)
      p = p.replace(re, () => {
        masked++;
        return MASK;
      });
    return p;
  };
  for (const m of s.matchAll(NOT_PI)) {
    out += maskPart(s.slice(last, m.index)) + m[0];
    last = m.index + m[0].length;
  }
  out += maskPart(s.slice(last));
  return { value: out, masked };
}

/** A JSON-like value with every PI shape in its strings, numbers and keys masked, and the count. */
export function maskPiShapes<T>(v: T): { value: T; masked: number } {
  let masked = 0;
  const walk = (x: unknown, depth: number): unknown => {
    if (depth > 16) return x;
    if (typeof x === 'string') {
      const r = maskPiText(x);
      masked += r.masked;
      return r.value;
    }
    if (typeof x === 'number' || typeof x === 'bigint') {
      const r = maskPiText(String(x));
      if (r.masked === 0) return x;
      masked += r.masked;
      return r.value;
    }
    if (Array.isArray(x)) return x.map((y) => walk(y, depth + 1));
    if (x && typeof x === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, y] of Object.entries(x)) o[walk(k, depth + 1) as string] = walk(y, depth + 1);
      return o;
    }
    return x;
  };
  const value = walk(v, 0) as T;
  return { value, masked };
}
