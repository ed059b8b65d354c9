import type { RouteDef } from './http/index.js';
import type { Principal } from './http/route.js';
import type { Infra } from './infra.js';

/**
 * The composition root: the one place that knows every module and wires their deps. Modules never
 * import each other's internals or this file; they receive what they need here.
 */
export interface App extends Infra {
  routes: RouteDef<any, any, any, any>[];
  authenticate(token: string): Promise<Principal | undefined>;
  /** Background work (ledger sequencer, checkpoint cadence) for a long-running server. */
  startBackground(): void;
  close(): Promise<void>;
}

export async function createApp(infra: Infra): Promise<App> {
  const routes: RouteDef<any, any, any, any>[] = [];
  return {
    ...infra,
    routes,
    authenticate: async () => undefined,
    startBackground() {},
    async close() {
      await infra.database.close();
    },
  };
}
