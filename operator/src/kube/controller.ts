// Controller: sources of changed keys → one work queue → N workers running a reconcile function
// (controller-runtime's controller, kube-rs's Controller::run).
//
// What happens next is a returned value (STYLE principle 3): `done` forgets the key's backoff; `after(ms)` forgets
// it and re-adds the key after ms; a thrown error re-adds it rate-limited (per-key exponential backoff);
// a TerminalError is reported and not retried — the next change of the object brings the key back.
//
// Invariants:
// - Sources are subscribed before they sync, so no change is lost, but workers start only once every source has
//   synced: a reconcile never acts on a partial cache (e.g. "no job exists" when the job is just not listed yet).
// - A key is never reconciled by two workers at once (the queue's processing set guarantees it); a change that
//   arrives meanwhile re-queues the key when the running reconcile finishes.
// - Shutdown (the run signal aborts): workers take no new keys, in-flight reconciles may finish until the
//   shutdown deadline, at which point their signal aborts; `run` resolves after they finish or at the deadline,
//   whichever comes first, and never calls a reconcile again.
// Metrics go to an optional observer so observability/ plugs prom-client in without kube/ importing it.

import type { Clock } from "./clock.ts";
import { defaultControllerRateLimiter, type RateLimiter } from "./ratelimit.ts";
import { WorkQueue, type QueueObserver } from "./workqueue.ts";

/** Re-reads `aborted` after an await (a plain read there is narrowed to false by the type checker). */
function stopped(signal: AbortSignal): boolean {
  return signal.aborted;
}

export type Result = { readonly kind: "done" } | { readonly kind: "after"; readonly ms: number };

export const done: Result = { kind: "done" };

export function after(ms: number): Result {
  return { kind: "after", ms };
}

/** A failure retrying cannot fix (bad spec, refused for good): wait for the object to change. */
export class TerminalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TerminalError";
  }
}

export type Reconcile = (key: string, signal: AbortSignal) => Promise<Result>;

/** Where keys come from: an Informer, or anything else that can say a key changed. */
export interface KeySource {
  readonly name: string;
  onChange(listener: (key: string) => void): () => void;
  /** Keys known now: replayed on subscription, as client-go replays a cache to a late event handler. */
  keys(): readonly string[];
  waitForSync(signal?: AbortSignal): Promise<boolean>;
}

export interface Watched {
  readonly source: KeySource;
  /** Maps a changed key of the source to the keys to reconcile (e.g. a job to its copy); identity when absent. */
  readonly map?: (key: string) => readonly string[];
}

export type Outcome = "done" | "after" | "error" | "terminal";

/** Metrics hooks: reconciles by outcome with their duration, per controller. All optional. */
export interface ControllerObserver {
  reconciled?(controller: string, outcome: Outcome, durationMs: number): void;
}

export interface ControllerOptions {
  readonly name: string;
  readonly watches: readonly Watched[];
  readonly reconcile: Reconcile;
  readonly clock: Clock;
  /** Concurrent reconciles of different keys. Default 8. */
  readonly workers?: number;
  /** How long in-flight reconciles may run on after shutdown begins. Default 30 s. */
  readonly shutdownTimeoutMs?: number;
  readonly rateLimiter?: RateLimiter;
  readonly queueObserver?: QueueObserver;
  readonly observer?: ControllerObserver;
  /** A reconcile failed (`terminal`: it will not be retried until the object changes). */
  readonly onError?: (key: string, e: unknown, terminal: boolean) => void;
}

export class Controller {
  readonly #o: ControllerOptions;
  readonly #queue: WorkQueue;
  #started = false;

  constructor(opts: ControllerOptions) {
    const workers = opts.workers ?? 8;
    if (!Number.isInteger(workers) || workers < 1)
      throw new Error(`invalid worker count ${workers}: need an integer >= 1`);
    this.#o = opts;
    const rateLimiter = opts.rateLimiter ?? defaultControllerRateLimiter(opts.clock);
    this.#queue = new WorkQueue(
      opts.queueObserver === undefined
        ? { clock: opts.clock, rateLimiter }
        : { clock: opts.clock, rateLimiter, observer: opts.queueObserver },
    );
  }

  get name(): string {
    return this.#o.name;
  }

  /** True once every source synced and the workers started (for readiness). */
  started(): boolean {
    return this.#started;
  }

  /** Queues a key by hand (e.g. from a timer outside the sources). */
  enqueue(key: string): void {
    this.#queue.add(key);
  }

  /** Runs until `signal` aborts, then shuts down as described above; a controller runs once. Never rejects. */
  async run(signal: AbortSignal): Promise<void> {
    // Subscribe, then replay what the source already holds: a source started (or synced) before this controller
    // notified its initial keys to nobody, and subscribing first leaves no gap between the two.
    const unsubscribe = this.#o.watches.map((w) => {
      const enqueue = (key: string): void => {
        for (const k of w.map === undefined ? [key] : w.map(key)) this.#queue.add(k);
      };
      const off = w.source.onChange(enqueue);
      for (const key of w.source.keys()) enqueue(key);
      return off;
    });
    try {
      const synced = await Promise.all(this.#o.watches.map((w) => w.source.waitForSync(signal)));
      if (signal.aborted || !synced.every(Boolean)) return;
      this.#started = true;
      await this.#work(signal);
    } finally {
      for (const u of unsubscribe) u();
      this.#queue.shutDown();
      this.#started = false;
    }
  }

  async #work(signal: AbortSignal): Promise<void> {
    // Aborted at the shutdown deadline, so reconciles that honour their signal stop in time.
    const reconcileSignal = new AbortController();
    const workers = Array.from({ length: this.#o.workers ?? 8 }, () => this.#worker(signal, reconcileSignal.signal));
    const allDone = Promise.all(workers).then(() => true);
    await new Promise<void>((resolve) => {
      if (signal.aborted) resolve();
      signal.addEventListener(
        "abort",
        () => {
          resolve();
        },
        { once: true },
      );
    });
    // Wakes idle workers; busy ones see the abort when they come back for a key.
    this.#queue.shutDown();
    const cancelDeadline = new AbortController();
    const deadline = this.#o.clock.sleep(this.#o.shutdownTimeoutMs ?? 30_000, cancelDeadline.signal).then(() => false);
    const finished = await Promise.race([allDone, deadline]);
    cancelDeadline.abort();
    if (!finished) reconcileSignal.abort();
  }

  async #worker(stop: AbortSignal, reconcileSignal: AbortSignal): Promise<void> {
    while (!stop.aborted) {
      const key = await this.#queue.get();
      if (key === undefined) return;
      // Keys still queued at shutdown are left for the next leader: their state is in the cluster.
      if (stopped(stop)) {
        this.#queue.done(key);
        return;
      }
      await this.#process(key, reconcileSignal);
    }
  }

  async #process(key: string, signal: AbortSignal): Promise<void> {
    const started = this.#o.clock.now();
    let outcome: Outcome;
    try {
      const result = await this.#o.reconcile(key, signal);
      this.#queue.forget(key);
      switch (result.kind) {
        case "done":
          outcome = "done";
          break;
        case "after":
          outcome = "after";
          this.#queue.addAfter(key, result.ms);
          break;
      }
    } catch (e: unknown) {
      const terminal = e instanceof TerminalError;
      outcome = terminal ? "terminal" : "error";
      if (terminal) this.#queue.forget(key);
      else this.#queue.addRateLimited(key);
      this.#report(key, e, terminal);
    } finally {
      this.#queue.done(key);
    }
    this.#o.observer?.reconciled?.(this.#o.name, outcome, this.#o.clock.now() - started);
  }

  #report(key: string, e: unknown, terminal: boolean): void {
    try {
      this.#o.onError?.(key, e, terminal);
    } catch {
      // A failing error hook must not stop the worker; there is nowhere left to report it.
    }
  }
}
