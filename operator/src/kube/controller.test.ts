import { describe, expect, it } from "vitest";
import { FakeClock, settle } from "./clock.ts";
import { Controller, TerminalError, after, done, type KeySource, type Reconcile, type Result } from "./controller.ts";
import { exponentialFailureRateLimiter } from "./ratelimit.ts";

/** A KeySource we drive by hand: our own port, so a double is allowed. */
class HandSource implements KeySource {
  readonly name = "hand";
  readonly #listeners = new Set<(key: string) => void>();
  #synced = false;
  #waiters: (() => void)[] = [];

  onChange(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    return new Promise((resolve) => {
      signal?.addEventListener(
        "abort",
        () => {
          resolve(false);
        },
        { once: true },
      );
      this.#waiters.push(() => {
        resolve(true);
      });
    });
  }

  sync(): void {
    this.#synced = true;
    for (const w of this.#waiters.splice(0)) w();
  }

  readonly known: string[] = [];

  keys(): readonly string[] {
    return this.known;
  }

  emit(...keys: string[]): void {
    for (const k of keys) for (const l of this.#listeners) l(k);
  }

  listeners(): number {
    return this.#listeners.size;
  }
}

interface Deferred {
  readonly promise: Promise<Result>;
  resolve(r: Result): void;
  reject(e: unknown): void;
}

function deferred(): Deferred {
  let resolve: (r: Result) => void = () => undefined;
  let reject: (e: unknown) => void = () => undefined;
  const promise = new Promise<Result>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

/** A reconcile whose calls are recorded and finished by the test. */
function handReconcile(): {
  reconcile: Reconcile;
  calls: { key: string; signal: AbortSignal; d: Deferred }[];
  running: () => string[];
} {
  const calls: { key: string; signal: AbortSignal; d: Deferred }[] = [];
  const active = new Set<Deferred>();
  const reconcile: Reconcile = (key, signal) => {
    const d = deferred();
    calls.push({ key, signal, d });
    active.add(d);
    return d.promise.finally(() => active.delete(d));
  };
  const running = (): string[] => calls.filter((c) => active.has(c.d)).map((c) => c.key);
  return { reconcile, calls, running };
}

function setup(opts: { workers?: number; shutdownTimeoutMs?: number } = {}) {
  const clock = new FakeClock();
  const source = new HandSource();
  const hand = handReconcile();
  const errors: { key: string; terminal: boolean }[] = [];
  const outcomes: string[] = [];
  const controller = new Controller({
    name: "test",
    watches: [{ source }],
    reconcile: hand.reconcile,
    clock,
    rateLimiter: exponentialFailureRateLimiter({ baseMs: 100, maxMs: 10_000 }),
    onError: (key, _e, terminal) => errors.push({ key, terminal }),
    observer: { reconciled: (_name, outcome) => outcomes.push(outcome) },
    ...opts,
  });
  const stop = new AbortController();
  const running = controller.run(stop.signal);
  return { clock, source, hand, errors, outcomes, controller, stop, running };
}

describe("Controller", () => {
  it("starts workers only after every source synced, keeping keys seen before", async () => {
    const t = setup();
    t.source.emit("ns/a");
    await settle();
    expect(t.hand.calls).toHaveLength(0);
    expect(t.controller.started()).toBe(false);
    t.source.sync();
    await settle();
    expect(t.controller.started()).toBe(true);
    expect(t.hand.calls.map((c) => c.key)).toEqual(["ns/a"]);
    t.hand.calls[0]?.d.resolve(done);
    t.stop.abort();
    await t.running;
  });

  it("replays the keys a source already held when the controller subscribed", async () => {
    const clock = new FakeClock();
    const source = new HandSource();
    source.known.push("ns/early");
    source.sync();
    const hand = handReconcile();
    const controller = new Controller({ name: "late", clock, reconcile: hand.reconcile, watches: [{ source }] });
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    await settle();
    expect(hand.calls.map((c) => c.key)).toEqual(["ns/early"]);
    hand.calls[0]?.d.resolve(done);
    stop.abort();
    await running;
  });

  it("never runs one key twice at once; a change during a reconcile runs it again afterwards", async () => {
    const t = setup({ workers: 4 });
    t.source.sync();
    t.source.emit("ns/a");
    await settle();
    t.source.emit("ns/a", "ns/a");
    await settle();
    expect(t.hand.running()).toEqual(["ns/a"]);
    t.hand.calls[0]?.d.resolve(done);
    await settle();
    expect(t.hand.calls).toHaveLength(2);
    expect(t.hand.running()).toEqual(["ns/a"]);
    t.hand.calls[1]?.d.resolve(done);
    t.stop.abort();
    await t.running;
  });

  it("runs at most `workers` reconciles at once", async () => {
    const t = setup({ workers: 2 });
    t.source.sync();
    t.source.emit("a", "b", "c");
    await settle();
    expect(t.hand.running()).toEqual(["a", "b"]);
    t.hand.calls[0]?.d.resolve(done);
    await settle();
    expect(t.hand.running()).toEqual(["b", "c"]);
    for (const c of t.hand.calls) c.d.resolve(done);
    t.stop.abort();
    await t.running;
  });

  it("after(ms) re-queues the key once ms have passed", async () => {
    const t = setup();
    t.source.sync();
    t.source.emit("a");
    await settle();
    t.hand.calls[0]?.d.resolve(after(5_000));
    await t.clock.advanceAsync(4_999);
    expect(t.hand.calls).toHaveLength(1);
    await t.clock.advanceAsync(1);
    expect(t.hand.calls).toHaveLength(2);
    expect(t.outcomes).toEqual(["after"]);
    t.hand.calls[1]?.d.resolve(done);
    t.stop.abort();
    await t.running;
  });

  it("a thrown error retries with growing backoff; done resets it", async () => {
    const t = setup();
    t.source.sync();
    t.source.emit("a");
    await settle();
    t.hand.calls[0]?.d.reject(new Error("array busy"));
    await t.clock.advanceAsync(100);
    expect(t.hand.calls).toHaveLength(2);
    t.hand.calls[1]?.d.reject(new Error("array busy"));
    await t.clock.advanceAsync(199);
    expect(t.hand.calls).toHaveLength(2);
    await t.clock.advanceAsync(1);
    expect(t.hand.calls).toHaveLength(3);
    t.hand.calls[2]?.d.resolve(done);
    await settle();
    expect(t.errors).toEqual([
      { key: "a", terminal: false },
      { key: "a", terminal: false },
    ]);
    expect(t.outcomes).toEqual(["error", "error", "done"]);
    t.stop.abort();
    await t.running;
  });

  it("a TerminalError is reported and not retried until the key changes", async () => {
    const t = setup();
    t.source.sync();
    t.source.emit("a");
    await settle();
    t.hand.calls[0]?.d.reject(new TerminalError("source volume is not a base volume"));
    await t.clock.advanceAsync(60_000);
    expect(t.hand.calls).toHaveLength(1);
    expect(t.errors).toEqual([{ key: "a", terminal: true }]);
    t.source.emit("a");
    await settle();
    expect(t.hand.calls).toHaveLength(2);
    t.hand.calls[1]?.d.resolve(done);
    t.stop.abort();
    await t.running;
  });

  it("on shutdown takes no new key, lets in-flight reconciles finish, then resolves", async () => {
    const t = setup({ workers: 1 });
    t.source.sync();
    t.source.emit("a", "b");
    await settle();
    t.stop.abort();
    let resolved = false;
    void t.running.then(() => {
      resolved = true;
    });
    await settle();
    expect(resolved).toBe(false);
    expect(t.hand.calls[0]?.signal.aborted).toBe(false);
    t.hand.calls[0]?.d.resolve(done);
    await settle();
    expect(resolved).toBe(true);
    expect(t.hand.calls.map((c) => c.key)).toEqual(["a"]);
    expect(t.source.listeners()).toBe(0);
  });

  it("aborts a reconcile that outlives the shutdown deadline and resolves anyway", async () => {
    const t = setup({ shutdownTimeoutMs: 1_000 });
    t.source.sync();
    t.source.emit("a");
    await settle();
    t.stop.abort();
    await t.clock.advanceAsync(999);
    expect(t.hand.calls[0]?.signal.aborted).toBe(false);
    await t.clock.advanceAsync(1);
    expect(t.hand.calls[0]?.signal.aborted).toBe(true);
    await t.running;
    t.hand.calls[0]?.d.resolve(done);
  });

  it("resolves at once when stopped before the sources synced, never reconciling", async () => {
    const t = setup();
    t.source.emit("a");
    t.stop.abort();
    await t.running;
    t.source.sync();
    await settle();
    expect(t.hand.calls).toHaveLength(0);
  });

  it("maps a secondary source's keys to the keys to reconcile", async () => {
    const clock = new FakeClock();
    const primary = new HandSource();
    const jobs = new HandSource();
    const hand = handReconcile();
    const controller = new Controller({
      name: "map",
      clock,
      reconcile: hand.reconcile,
      watches: [{ source: primary }, { source: jobs, map: (key) => [key.replace(/-job$/, "")] }],
    });
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    primary.sync();
    await settle();
    expect(controller.started()).toBe(false);
    jobs.sync();
    jobs.emit("ns/copy-job");
    await settle();
    expect(hand.calls.map((c) => c.key)).toEqual(["ns/copy"]);
    hand.calls[0]?.d.resolve(done);
    stop.abort();
    await running;
  });
});
