import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';

/*
 * Threat: a shortcut around the design's doors. A module that reaches into another's internals,
 * a cycle between modules, an import that points up the layers (a module depending on the HTTP
 * assembly, the database layer depending on a module), a second place that decrypts PI for a
 * caller, or code outside src/lib/crypto calling crypto primitives would each bypass the one path
 * that decides, records and protects every read. These checks read the source as text and fail on
 * any such import. Each check is a function over a list of files, so the tests at the end can run
 * it over planted files and show that it fails.
 *
 * The layers, lowest first (docs/architecture.md draws them). A file may import from its own layer
 * and from any layer below it, never from one above:
 *   0 lib      src/lib/**          leaf utilities; may `import type` src/config.ts and nothing else above
 *   1 config   src/config.ts       the configuration schema
 *   2 db       src/db/**           the Kysely instance, the dialect file, migrations, bulk SQL
 *   3 modules  src/modules/<m>/**  other modules only through their index.ts, no cycles
 *   4 sim      src/modules/sim/**  the synthetic organisation: simulation and benchmark data, which
 *                                  no production module may depend on
 *   5 app      src/app/**          composition root, HTTP assembly, demo, doctor, the simulator
 *   6 bench    src/bench/**        the benchmark runner and suites
 *   7 cli      src/cli.ts, src/cli/**  the CLI entry point
 * Outside its own layer, src/db is entered only through src/db/index.ts.
 */
const root = new URL('..', import.meta.url).pathname;
const src = join(root, 'src');

interface SourceFile {
  path: string;
  text: string;
}

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((f) => {
    const p = join(dir, f);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') || p.endsWith('.tsx') ? [p] : [];
  });
}

const sources: SourceFile[] = files(src).map((p) => ({
  path: relative(root, p),
  text: readFileSync(p, 'utf8'),
}));
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

const LAYERS = ['lib', 'config', 'db', 'modules', 'sim', 'app', 'bench', 'cli'] as const;
type Layer = (typeof LAYERS)[number];

/** The layer of a path under src/ (a resolved import target may lack its extension's `.ts`). */
function layerOf(path: string): Layer | undefined {
  if (path.startsWith('src/lib/')) return 'lib';
  if (/^src\/config(\.[jt]s)?$/.test(path)) return 'config';
  if (path.startsWith('src/db/')) return 'db';
  if (path.startsWith('src/modules/sim/') || path === 'src/modules/sim') return 'sim';
  if (path.startsWith('src/modules/')) return 'modules';
  if (path.startsWith('src/app/')) return 'app';
  if (path.startsWith('src/bench/')) return 'bench';
  if (/^src\/cli(\.[jt]s)?$/.test(path) || path.startsWith('src/cli/')) return 'cli';
  return undefined;
}

/** Every relative import that points to a higher layer, as `file → spec`. */
function upwardImports(files: readonly SourceFile[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    const from = layerOf(f.path);
    if (!from) continue;
    for (const { spec, typeOnly } of imports(f.text)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpec(f.path, spec);
      const to = layerOf(target);
      if (!to || LAYERS.indexOf(to) <= LAYERS.indexOf(from)) continue;
      // lib may name the configuration's type (CommandContext carries a Config), never load it.
      if (from === 'lib' && to === 'config' && typeOnly) continue;
      bad.push(`${f.path} → ${spec}`);
    }
  }
  return bad;
}

/** Imports of src/db from outside it that go past its door, src/db/index.ts. */
function dbDoorImports(files: readonly SourceFile[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    if (layerOf(f.path) === 'db') continue;
    for (const { spec } of imports(f.text)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpec(f.path, spec);
      if (layerOf(target) === 'db' && target !== 'src/db/index.js') bad.push(`${f.path} → ${spec}`);
    }
  }
  return bad;
}

/** Imports of another module that do not go through its index.ts. */
function deepModuleImports(files: readonly SourceFile[]): string[] {
  const bad: string[] = [];
  for (const f of files) {
    for (const { spec } of imports(f.text)) {
      if (!spec.startsWith('.')) continue;
      const target = resolveSpec(f.path, spec);
      const tm = moduleOf(`${target}/`) ?? moduleOf(target);
      if (!tm || tm === moduleOf(f.path)) continue;
      if (!target.endsWith(`src/modules/${tm}/index.js`) && target !== `src/modules/${tm}`)
        bad.push(`${f.path} → ${spec}`);
    }
  }
  return bad;
}

/** Cycles in the graph of run-time imports between modules, as `a → b → a`. */
function moduleCycles(files: readonly SourceFile[]): string[] {
  const graph = new Map<string, Set<string>>();
  for (const f of files) {
    const m = moduleOf(f.path);
    if (!m) continue;
    for (const { spec, typeOnly } of imports(f.text)) {
      if (typeOnly || !spec.startsWith('.')) continue;
      const tm = moduleOf(`${resolveSpec(f.path, spec)}/`);
      if (tm && tm !== m) graph.set(m, (graph.get(m) ?? new Set()).add(tm));
    }
  }
  const cycles = new Set<string>();
  const visit = (n: string, stack: string[]) => {
    if (stack.includes(n)) {
      cycles.add([...stack.slice(stack.indexOf(n)), n].join(' → '));
      return;
    }
    for (const next of graph.get(n) ?? []) visit(next, [...stack, n]);
  };
  for (const n of graph.keys()) visit(n, []);
  return [...cycles];
}

describe('architecture', () => {
  it('modules import other modules only through their index.ts', () => {
    expect(deepModuleImports(sources)).toEqual([]);
  });

  it('modules form no cycle', () => {
    expect(moduleCycles(sources)).toEqual([]);
  });

  it('no import points up the layers', () => {
    expect(upwardImports(sources)).toEqual([]);
  });

  it('src/lib/synthetic is entered only through its index.ts', () => {
    const bad = sources.flatMap((f) =>
      f.path.startsWith('src/lib/synthetic/')
        ? []
        : imports(f.text)
            .filter((i) => i.spec.startsWith('.'))
            .map((i) => resolveSpec(f.path, i.spec))
            .filter((t) => t.startsWith('src/lib/synthetic/') && t !== 'src/lib/synthetic/index.js')
            .map((t) => `${f.path} → ${t}`),
    );
    expect(bad).toEqual([]);
  });

  it('src/db is entered only through its index.ts', () => {
    expect(dbDoorImports(sources)).toEqual([]);
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

describe('architecture checks catch what they are for', () => {
  const file = (path: string, text: string): SourceFile => ({ path, text });

  it('a planted upward import fails the layer check', () => {
    const planted = [
      file('src/lib/format.ts', "import { createApp } from '../app/app.js';\n"),
      file('src/db/bulk2.ts', "import { createLedger } from '../modules/ledger/index.js';\n"),
      file('src/modules/vault/x.ts', "import type { App } from '../../app/app.js';\n"),
      file('src/modules/vault/y.ts', "import { customerAt } from '../sim/index.js';\n"),
      file('src/app/z.ts', "import { runSuites } from '../bench/runner.js';\n"),
      file('src/bench/w.ts', "export { program } from '../cli.js';\n"),
      file('src/lib/v.ts', "import { loadConfig } from '../config.js';\n"),
    ];
    expect(upwardImports(planted)).toEqual(planted.map((f) => `${f.path} → ${/'([^']+)'/.exec(f.text)![1]}`));
  });

  it('downward and same-layer imports pass the layer check', () => {
    const fine = [
      file('src/lib/cli/context.ts', "import type { Config } from '../../config.js';\n"),
      file('src/db/bulk.ts', "import { randomId } from '../lib/ids.js';\n"),
      file('src/modules/access/a.ts', "import { openDatabase } from '../../db/index.js';\n"),
      file('src/modules/sim/s.ts', "import { createVault } from '../vault/index.js';\n"),
      file('src/app/simulate/q.ts', "import { createApp } from '../app.js';\n"),
      file('src/bench/suites/b.ts', "import { createApp } from '../../app/app.js';\n"),
      file('src/cli.ts', "import { suites } from './bench/index.js';\n"),
    ];
    expect(upwardImports(fine)).toEqual([]);
  });

  it('a planted cycle between modules fails the cycle check', () => {
    const planted = [
      file('src/modules/alpha/alpha.service.ts', "import { b } from '../beta/index.js';\n"),
      file('src/modules/beta/beta.service.ts', "import { c } from '../gamma/index.js';\n"),
      file('src/modules/gamma/gamma.service.ts', "import { a } from '../alpha/index.js';\n"),
    ];
    expect(moduleCycles(planted)).toContain('alpha → beta → gamma → alpha');
    // A type-only edge is erased at build time and closes no cycle.
    planted[2] = file('src/modules/gamma/gamma.service.ts', "import type { A } from '../alpha/index.js';\n");
    expect(moduleCycles(planted)).toEqual([]);
  });

  it('a planted deep import fails the door checks', () => {
    expect(
      deepModuleImports([file('src/modules/access/a.ts', "import { x } from '../vault/vault.repo.js';\n")]),
    ).toEqual(['src/modules/access/a.ts → ../vault/vault.repo.js']);
    expect(
      dbDoorImports([file('src/modules/vault/v.ts', "import { toBuffer } from '../../db/dialect.js';\n")]),
    ).toEqual(['src/modules/vault/v.ts → ../../db/dialect.js']);
  });
});
