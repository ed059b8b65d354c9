import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * Threat: a shortcut around the design's doors. A module that reaches into another's internals,
 * a cycle between modules, a second place that decrypts PI for a caller, or code outside
 * src/lib/crypto calling crypto primitives would each bypass the one path that decides, records
 * and protects every read. These checks read the source as text and fail on any such import.
 */
const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const sources = files(src).map((p) => ({ path: relative(root, p), text: readFileSync(p, 'utf8') }));
const importRe = /^(import|export)\s+(type\s+)?[^'";]*?from\s+'([^']+)'/gm;

function imports(text: string): { spec: string; typeOnly: boolean; clause: string }[] {
  return [...text.matchAll(importRe)].map((m) => ({ spec: m[3]!, typeOnly: Boolean(m[2]), clause: m[0] }));
}

function moduleOf(path: string): string | undefined {
  return /^src\/modules\/([^/]+)\//.exec(path)?.[1];
}

function resolveSpec(from: string, spec: string): string {
  const parts = from.split('/').slice(0, -1);
  for (const seg of spec.split('/')) {
    if (seg === '..') parts.pop();
    else if (seg !== '.') parts.push(seg);
  }
  return parts.join('/');
}

describe('architecture', () => {
  it('modules import other modules only through their index.ts', () => {
    const bad: string[] = [];
    for (const f of sources) {
      for (const { spec } of imports(f.text)) {
        if (!spec.startsWith('.')) continue;
        const target = resolveSpec(f.path, spec);
        const tm = moduleOf(`${target}/`) ?? moduleOf(target);
        if (!tm || tm === moduleOf(f.path)) continue;
        if (!target.endsWith(`src/modules/${tm}/index.js`) && target !== `src/modules/${tm}`)
          bad.push(`${f.path} → ${spec}`);
      }
    }
    expect(bad).toEqual([]);
  });

  it('modules form no cycle', () => {
    const graph = new Map<string, Set<string>>();
    for (const f of sources) {
      const m = moduleOf(f.path);
      if (!m) continue;
      for (const { spec, typeOnly } of imports(f.text)) {
        if (typeOnly || !spec.startsWith('.')) continue;
        const tm = moduleOf(`${resolveSpec(f.path, spec)}/`);
        if (tm && tm !== m) graph.set(m, (graph.get(m) ?? new Set()).add(tm));
      }
    }
    const cycles: string[] = [];
    const visit = (n: string, stack: string[]) => {
      if (stack.includes(n)) {
        cycles.push([...stack.slice(stack.indexOf(n)), n].join(' → '));
        return;
      }
      for (const next of graph.get(n) ?? []) visit(next, [...stack, n]);
    };
    for (const n of graph.keys()) visit(n, []);
    expect(cycles).toEqual([]);
  });

  it('the ledger depends on no other module', () => {
    const bad = sources
      .filter((f) => moduleOf(f.path) === 'ledger')
      .flatMap((f) =>
        imports(f.text).filter(
          (i) => i.spec.includes('/modules/') || /^\.\.\/[a-z]+\/index\.js$/.test(i.spec),
        ),
      )
      .map((i) => i.clause);
    expect(bad).toEqual([]);
  });

  it('only the access module opens PI for a caller', () => {
    const bad = sources
      .filter((f) => moduleOf(f.path) !== 'access' && moduleOf(f.path) !== 'vault')
      .filter((f) => /\bopenSubjects?Fields\b/.test(f.text))
      .map((f) => f.path);
    expect(bad).toEqual([]);
  });

  it('only src/lib/crypto calls crypto primitives', () => {
    // Benchmarks measure raw primitives and raw SQL as their baselines, by design.
    const allowed = [
      /^src\/bench\//,
      /^src\/lib\/crypto\//,
      /^src\/lib\/ids\.ts$/,
      /^src\/db\/migrator\.ts$/,
      /^src\/app\/http\/server\.ts$/,
    ];
    const bad = sources
      .filter((f) => !allowed.some((a) => a.test(f.path)) && !f.path.endsWith('.test.ts'))
      .filter((f) =>
        imports(f.text).some((i) => !i.typeOnly && (i.spec === 'node:crypto' || i.spec === 'crypto')),
      )
      .map((f) => f.path);
    expect(bad).toEqual([]);
  });

  it('only repositories, migrations and src/db use kysely at run time', () => {
    const bad = sources
      .filter(
        (f) =>
          !/^src\/(db|bench)\//.test(f.path) && !/\.repo\.ts$/.test(f.path) && !f.path.endsWith('.test.ts'),
      )
      .filter((f) => imports(f.text).some((i) => i.spec === 'kysely' && !i.typeOnly))
      .map((f) => f.path);
    expect(bad).toEqual([]);
  });
});
