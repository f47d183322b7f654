// An engine that injects faults in front of a real one (our own port, so faking it is allowed): a call can be
// refused before it reaches the engine (Unavailable, Busy: retryable, nothing applied) or applied and then
// reported as timed out (uncertain: the caller cannot tell whether it happened), or stall (answer late, as a
// slow array does, then apply), or, for a group copy, make the first member's copy and then fail on the second
// ("member-fails": what a non-atomic engine, or a lost answer, can leave behind). Every fault is counted, so a
// test can show that faults were really injected.
import { EngineError } from "../../operator/src/engine/errors.ts";
import type { CallOptions, Engine } from "../../operator/src/engine/port.ts";

export type Fault = "unavailable" | "busy" | "timeout-after-apply" | "stall" | "member-fails";
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
      <A extends unknown[], R>(
        method: string,
        f: (...args: A) => Promise<R>,
        partial?: (...args: A) => Promise<void>,
      ) =>
      async (...args: A): Promise<R> =>
        this.#call(method, () => f(...args), partial === undefined ? undefined : () => partial(...args));
    return {
      // Its timeouts after the apply and its stalls make creates that land after the caller gave up: a remote
      // array's behaviour, whatever the inner engine's.
      capabilities: () => ({ ...inner.capabilities(), createsMayLandLate: true }),
      createVirtualCopy: wrap("createVirtualCopy", (r: Parameters<Engine["createVirtualCopy"]>[0], o?: CallOptions) =>
        inner.createVirtualCopy(r, o),
      ),
      createGroupVirtualCopy: wrap(
        "createGroupVirtualCopy",
        (r: Parameters<Engine["createGroupVirtualCopy"]>[0], o?: CallOptions) => inner.createGroupVirtualCopy(r, o),
        (r) => this.#firstMemberOnly(r),
      ),
      observeVolumeSet: wrap("observeVolumeSet", (n: string, o?: CallOptions) => inner.observeVolumeSet(n, o)),
      createPhysicalCopy: wrap(
        "createPhysicalCopy",
        (r: Parameters<Engine["createPhysicalCopy"]>[0], o?: CallOptions) => inner.createPhysicalCopy(r, o),
      ),
      startJob: wrap("startJob", (r: Parameters<Engine["startJob"]>[0], o?: CallOptions) => inner.startJob(r, o)),
      halt: wrap("halt", (t: Parameters<Engine["halt"]>[0], o?: CallOptions) => inner.halt(t, o)),
      observeCopy: wrap("observeCopy", (n: string, o?: CallOptions) => inner.observeCopy(n, o)),
      observeVolume: wrap("observeVolume", (n: string, o?: CallOptions) => inner.observeVolume(n, o)),
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

  /** The first member's copy alone, made through the real engine, as a group copy that failed half way leaves. */
  async #firstMemberOnly(r: Parameters<Engine["createGroupVirtualCopy"]>[0]): Promise<void> {
    const [first] = r.sources;
    if (first === undefined) return;
    await this.inner.createVirtualCopy({
      name: `${r.namePrefix}0`,
      source: first,
      readOnly: r.readOnly,
      owner: r.owner,
      ...(r.expirationHours === undefined ? {} : { expirationHours: r.expirationHours }),
      ...(r.retentionHours === undefined ? {} : { retentionHours: r.retentionHours }),
    });
  }

  async #call<R>(method: string, f: () => Promise<R>, partial?: () => Promise<void>): Promise<R> {
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
      case "member-fails": {
        if (partial === undefined) return f();
        await partial();
        throw new EngineError(`injected: ${method} failed on its second member`, { code: "Internal", kind: "final" });
      }
      case "stall":
        await new Promise((resolve) => setTimeout(resolve, this.stallMs));
        return f();
      case undefined:
        return f();
    }
  }
}
