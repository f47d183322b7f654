// Engine calls timed into the engine-latency histogram (driver, operation, outcome), without the controllers or
// the drivers knowing: main.ts wraps each engine the registry builds.
import type { Engine } from "../engine/port.ts";

export type EngineCallObserver = (operation: string, outcome: "ok" | "error", ms: number) => void;

const timedMethods = [
  "createVirtualCopy",
  "createGroupVirtualCopy",
  "observeVolumeSet",
  "createPhysicalCopy",
  "startJob",
  "halt",
  "observeCopy",
  "observeVolume",
  "observeJob",
  "deleteCopy",
  "listCopies",
] as const;

export function instrumented(engine: Engine, observe: EngineCallObserver): Engine {
  const timed =
    <A extends unknown[], R>(operation: string, f: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      try {
        const r = await f(...args);
        observe(operation, "ok", performance.now() - start);
        return r;
      } catch (e: unknown) {
        observe(operation, "error", performance.now() - start);
        throw e;
      }
    };
  const wrapped: Record<string, unknown> = {};
  for (const m of timedMethods)
    wrapped[m] = timed(m, (engine[m] as (...a: unknown[]) => Promise<unknown>).bind(engine));
  return {
    ...(wrapped as Pick<Engine, (typeof timedMethods)[number]>),
    capabilities: () => engine.capabilities(),
    subscribe: (l) => engine.subscribe(l),
    ...(engine.indicationStatus === undefined ? {} : { indicationStatus: () => engine.indicationStatus?.() }),
    volumes: engine.volumes,
    close: () => engine.close(),
  };
}

/**
 * An engine provider whose engines are each wrapped once (a WeakMap keeps the wrapper for the engine's life),
 * with `first` told of every new engine (to follow its indications).
 */
export function instrumentedProvider<C extends { readonly spec: { readonly driver: string } }>(
  base: { engineFor(cls: C): Promise<Engine> },
  observe: (driver: string, operation: string, outcome: "ok" | "error", ms: number) => void,
  first: (engine: Engine) => void,
): { engineFor(cls: C): Promise<Engine> } {
  const timed = new WeakMap<Engine, Engine>();
  return {
    engineFor: async (cls) => {
      const engine = await base.engineFor(cls);
      const seen = timed.get(engine);
      if (seen !== undefined) return seen;
      first(engine);
      const wrapped = instrumented(engine, (operation, outcome, ms) => {
        observe(cls.spec.driver, operation, outcome, ms);
      });
      timed.set(engine, wrapped);
      return wrapped;
    },
  };
}
