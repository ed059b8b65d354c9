import { fork } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';

/**
 * The external load generator of the HTTP benchmarks: autocannon in a child process of its own, so
 * the client neither shares the server's event loop nor counts in its CPU time. One message in
 * (what to send), one message out (what it measured).
 */
export interface LoadOptions {
  port: number;
  /** Bearer API key; none for a baseline server without authentication. */
  key?: string;
  /** Request paths, used round-robin. */
  paths: readonly string[];
  method?: 'GET' | 'POST';
  /** JSON bodies for POST, used round-robin. */
  bodies?: readonly string[];
  connections: number;
  /** Seconds to run. */
  seconds: number;
}

export interface LoadResult {
  requests: number;
  seconds: number;
  /** Requests per second over the run. */
  rps: number;
  /** Latency percentiles and maximum, milliseconds. */
  p50: number;
  p99: number;
  p999: number;
  max: number;
  /** Responses other than 2xx, and socket errors/timeouts. */
  non2xx: number;
  errors: number;
}

const CHILD_FLAG = '--custodian-loadgen';

export function runLoad(options: LoadOptions): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = fork(fileURLToPath(import.meta.url), [CHILD_FLAG], { execArgv: [] });
    let result: LoadResult | undefined;
    child.once('message', (m) => {
      result = m as LoadResult;
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      result ? resolve(result) : reject(new Error(`load generator exited with code ${code}`)),
    );
    child.send(options);
  });
}

interface AutocannonResult {
  requests: { total: number };
  duration: number;
  latency: { p50: number; p99: number; p99_9: number; max: number };
  non2xx: number;
  errors: number;
  timeouts: number;
}

function child(): void {
  process.once('message', (o: LoadOptions) => {
    const autocannon = createRequire(import.meta.url)('autocannon') as (
      opts: object,
      cb: (err: Error | null, res: AutocannonResult) => void,
    ) => void;
    let i = 0;
    autocannon(
      {
        url: `http://127.0.0.1:${o.port}`,
        connections: o.connections,
        duration: o.seconds,
        method: o.method ?? 'GET',
        headers: {
          ...(o.key ? { authorization: `Bearer ${o.key}` } : {}),
          ...(o.bodies ? { 'content-type': 'application/json' } : {}),
        },
        requests: [
          {
            setupRequest: (r: { path: string; body?: string }) => {
              const n = i++;
              r.path = o.paths[n % o.paths.length]!;
              if (o.bodies) r.body = o.bodies[n % o.bodies.length]!;
              return r;
            },
          },
        ],
      },
      (err, res) => {
        if (err) {
          process.exitCode = 1;
          process.disconnect?.();
          return;
        }
        const out: LoadResult = {
          requests: res.requests.total,
          seconds: res.duration,
          rps: res.requests.total / res.duration,
          p50: res.latency.p50,
          p99: res.latency.p99,
          p999: res.latency.p99_9,
          max: res.latency.max,
          non2xx: res.non2xx,
          errors: res.errors + res.timeouts,
        };
        process.send?.(out, () => process.disconnect?.());
      },
    );
  });
}

if (process.argv[2] === CHILD_FLAG && process.send) child();
