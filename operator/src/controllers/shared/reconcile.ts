// The one reconcile skeleton: every controller of an array object runs the same steps for a key — take the object
// from the cache, gather (connect, and what else the kind reads), decide a plan, act on it (at most one engine
// call, its intent recorded first), then publish what status.ts made of it. A kind gives only its own steps.
import type { Logger } from "pino";
import type { Engine } from "../../engine/port.ts";
import { done, type Reconcile, type Result } from "../../kube/controller.ts";
import type { Meta } from "./objects.ts";

export interface Gathering<G> {
  readonly g: G;
  /** The class's engine, for act: present whenever the link is ok. */
  readonly engine: Engine | undefined;
}

export interface Steps<O extends { readonly metadata: Meta }, G, P, R> {
  /** The object from the cache; undefined once it is gone (nothing to do). */
  readonly get: (key: string) => O | undefined;
  /** Reads only: the cache, PVCs and PVs, the engine's observation. */
  readonly gather: (obj: O, signal: AbortSignal) => Promise<Gathering<G>>;
  /** A pure function of what was gathered. */
  readonly decide: (g: G) => P;
  readonly act: (g: G, plan: P, engine: Engine | undefined, signal: AbortSignal, log: Logger) => Promise<R>;
  /** Writes the status once and the transition's events, and says what comes next. */
  readonly publish: (g: G, plan: P, outcome: R, log: Logger) => Promise<Result>;
}

export function reconcileSteps<O extends { readonly metadata: Meta }, G, P, R>(
  log: Logger,
  steps: Steps<O, G, P, R>,
): Reconcile {
  return async (key, signal) => {
    const obj = steps.get(key);
    if (obj === undefined) return done;
    const l = log.child({ namespace: obj.metadata.namespace, name: obj.metadata.name });
    const { g, engine } = await steps.gather(obj, signal);
    const plan = steps.decide(g);
    const outcome = await steps.act(g, plan, engine, signal, l);
    return steps.publish(g, plan, outcome, l);
  };
}
