import type { z } from 'zod';

/**
 * Validation issues as a caller may see them: where (schema field names and array positions) and
 * what kind of problem (zod's issue code), never a value. A path segment that is not one of the
 * schema's own names — a record's key, an unknown property, anything taken from the input (say a
 * mobile sent as a JSON key) — is shown as `*`. Without the schema, only identifier-like names and
 * positions are shown.
 */
export interface PublicIssue {
  path: string;
  problem: string;
}

type Def = {
  type: string;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  rest?: z.ZodType;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  options?: z.ZodType[];
  left?: z.ZodType;
  right?: z.ZodType;
};

const defOf = (s: z.ZodType | undefined): Def | undefined =>
  (s as unknown as { _zod?: { def?: Def } } | undefined)?._zod?.def;

/** Strips wrappers (optional, default, pipe, lazy…) down to the schema that holds children. */
function unwrap(s: z.ZodType | undefined, depth = 0): z.ZodType | undefined {
  const d = defOf(s);
  if (!d || depth > 32) return s;
  if (d.innerType) return unwrap(d.innerType, depth + 1);
  if (d.type === 'pipe' && d.in) return unwrap(d.in, depth + 1);
  if (d.type === 'lazy' && d.getter) return unwrap(d.getter(), depth + 1);
  return s;
}

/** The child schema under `key`, and whether `key` is the schema's own name (or a position). */
function child(s: z.ZodType | undefined, key: PropertyKey): { schema?: z.ZodType; own: boolean } {
  const u = unwrap(s);
  const d = defOf(u);
  if (!d) return { own: typeof key === 'number' };
  switch (d.type) {
    case 'object':
      return typeof key === 'string' && d.shape && Object.hasOwn(d.shape, key)
        ? { schema: d.shape[key]!, own: true }
        : { own: false };
    case 'array':
      return typeof key === 'number' ? { schema: d.element!, own: true } : { own: false };
    case 'tuple':
      return typeof key === 'number' ? { schema: d.items?.[key] ?? d.rest!, own: true } : { own: false };
    case 'record':
      return { schema: d.valueType!, own: false };
    case 'union':
    case 'intersection': {
      const alts = d.options ?? [d.left!, d.right!];
      for (const a of alts) {
        const c = child(a, key);
        if (c.own) return c;
      }
      return { own: typeof key === 'number' };
    }
    default:
      return { own: typeof key === 'number' };
  }
}

const IDENT = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

export function issuePath(path: readonly PropertyKey[], schema?: z.ZodType): string {
  const out: string[] = [];
  let s: z.ZodType | undefined = schema;
  let known = schema !== undefined;
  for (const k of path) {
    if (known) {
      const c = child(s, k);
      out.push(c.own ? String(k) : '*');
      s = c.schema;
      known = s !== undefined;
    } else {
      out.push(
        typeof k === 'number' || (typeof k === 'string' && IDENT.test(k) && !/\d{6}/.test(k))
          ? String(k)
          : '*',
      );
    }
  }
  return out.join('.');
}

export function publicIssues(error: z.ZodError, schema?: z.ZodType): PublicIssue[] {
  return error.issues.map((i) => ({ path: issuePath(i.path, schema), problem: i.code }));
}
