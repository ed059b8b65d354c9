import { Worker } from 'node:worker_threads';

/**
 * Starts the worker module `name` that sits beside the module whose `import.meta.url` is `here`:
 * the compiled JavaScript, or, when running from TypeScript sources (tests, tsx), through the same
 * loader, resolved from `here` so that it does not depend on the working directory.
 */
export function startWorkerBeside(here: string, name: string, workerData: unknown): Worker {
  if (here.endsWith('.ts')) {
    const url = new URL(`./${name}.ts`, here).href;
    const tsx = import.meta.resolve('tsx/esm/api');
    return new Worker(
      `import(${JSON.stringify(tsx)}).then(({ register }) => { register(); return import(${JSON.stringify(url)}); })`,
      { eval: true, workerData },
    );
  }
  return new Worker(new URL(`./${name}.js`, here), { workerData });
}
