import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { machineInfo, type SuiteResult, writeBenchmarksDoc } from '../lib/measure.js';
import type { BenchContext, BenchSuite } from './types.js';

export async function runSuites(
  suites: readonly BenchSuite[],
  ctx: BenchContext,
  options: { resultsDir?: string; docFile?: string; write?: boolean } = {},
): Promise<SuiteResult[]> {
  const resultsDir = options.resultsDir ?? 'bench/results';
  const out: SuiteResult[] = [];
  for (const suite of suites) {
    ctx.log(`suite ${suite.name}: ${suite.description}`);
    const measurements = await suite.run(ctx);
    const result: SuiteResult = {
      suite: suite.name,
      description: suite.description,
      at: new Date().toISOString(),
      machine: machineInfo(),
      scale: ctx.scale,
      runs: ctx.runs,
      dialects: ctx.dialects,
      measurements,
    };
    out.push(result);
    if (options.write !== false) {
      mkdirSync(resultsDir, { recursive: true });
      writeFileSync(join(resultsDir, `${suite.name}.json`), `${JSON.stringify(result, null, 2)}\n`);
    }
  }
  if (options.write !== false && options.docFile) writeBenchmarksDoc(resultsDir, options.docFile);
  return out;
}
