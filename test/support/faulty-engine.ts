// An engine that injects faults in front of a real one (our own port, so faking it is allowed): a call can be
// refused before it reaches the engine (Unavailable, Busy: retryable, nothing applied) or applied and then
// reported as timed out (uncertain: the caller cannot tell whether it happened), or stall (answer late, as a
// slow array does, then apply). Every fault is counted, so a test can show that faults were really injected.
import { EngineError } from "../../operator/src/engine/errors.ts";
import type { CallOptions, Engine } from "../../operator/src/engine/port.ts";

export type Fault = "unavailable" | "busy" | "timeout-after-apply" | "stall";
export type FaultPlan = (method: string, call: number) => Fault | undefined;

/** Each mutating method fails its first calls, one per mode; observations fail every `every`-th call. */
export function eachCallFailsOnce(every = 7): FaultPlan {
  const mutating = new Set(["createVirtualCopy", "createPhysicalCopy", "startJob", "halt", "deleteCopy"]);
  const modes: Fault[] = ["timeout-after-apply", "unavailable", "busy"];
  return (method, call) => {
    if (mutating.has(method)) return modes[call];
    if ((method === "observeCopy" || method === "observeJob") && call % every === every - 1) return "unavailable";
    return undefined;
  };
}

export class FaultyEngine {
  readonly injected = new Map<string, number>();
  readonly #calls = new Map<string, number>();

  readonly inner: Engine;
  readonly plan: FaultPlan;
  readonly stallMs: number;

  constructor(inner: Engine, plan: FaultPlan, stallMs = 3_000) {
    this.inner = inner;
    this.plan = plan;
    this.stallMs = stallMs;
  }

  /** The wrapped engine, as the operator sees it. */
  engine(): Engine {
    const inner = this.inner;
    const wrap =
      <A extends unknown[], R>(method: string, f: (...args: A) => Promise<R>) =>
      async (...args: A): Promise<R> =>
        this.#call(method, () => f(...args));
    return {
      capabilities: () => inner.capabilities(),
      createVirtualCopy: wrap("createVirtualCopy", (r: Parameters<Engine["createVirtualCopy"]>[0], o?: CallOptions) =>
        inner.createVirtualCopy(r, o),
      ),
      createPhysicalCopy: wrap(
        "createPhysicalCopy",
        (r: Parameters<Engine["createPhysicalCopy"]>[0], o?: CallOptions) => inner.createPhysicalCopy(r, o),
      ),
      startJob: wrap("startJob", (r: Parameters<Engine["startJob"]>[0], o?: CallOptions) => inner.startJob(r, o)),
      halt: wrap("halt", (t: Parameters<Engine["halt"]>[0], o?: CallOptions) => inner.halt(t, o)),
      observeCopy: wrap("observeCopy", (n: string, o?: CallOptions) => inner.observeCopy(n, o)),
      observeJob: wrap("observeJob", (id: string, o?: CallOptions) => inner.observeJob(id, o)),
      deleteCopy: wrap("deleteCopy", (c: Parameters<Engine["deleteCopy"]>[0], o?: CallOptions) =>
        inner.deleteCopy(c, o),
      ),
      listCopies: (o?: CallOptions) => inner.listCopies(o),
      subscribe: (l) => inner.subscribe(l),
      volumes: inner.volumes,
      close: () => Promise.resolve(),
    };
  }

  async #call<R>(method: string, f: () => Promise<R>): Promise<R> {
    const n = this.#calls.get(method) ?? 0;
    this.#calls.set(method, n + 1);
    const fault = this.plan(method, n);
    if (fault !== undefined)
      this.injected.set(`${method}:${fault}`, (this.injected.get(`${method}:${fault}`) ?? 0) + 1);
    switch (fault) {
      case "unavailable":
        throw new EngineError(`injected: the array did not answer ${method}`, { code: "Unavailable" });
      case "busy":
        throw new EngineError(`injected: the array is busy (${method})`, { code: "Busy" });
      case "timeout-after-apply": {
        await f();
        throw new EngineError(`injected: ${method} timed out (it was applied)`, { code: "Timeout", kind: "uncertain" });
      }
      case "stall":
        await new Promise((resolve) => setTimeout(resolve, this.stallMs));
        return f();
      case undefined:
        return f();
    }
  }
}
