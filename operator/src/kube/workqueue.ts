// WorkQueue: the deduplicating, delaying, rate-limited queue of keys that controllers' workers drain, with
// client-go's semantics (util/workqueue: Type + delaying_queue + rate_limiting_queue).
//
// Invariants:
// - A key is in the queue at most once; adding a queued key is a no-op (the reconcile reads the latest state).
// - A key being processed is never handed out again until `done(key)`; if it is added meanwhile it is marked
//   dirty and queued again by `done`, so the change that came in during processing is not lost.
// - `addAfter` keeps one pending delay per key and the earliest deadline wins. Delays wait in one min-heap under
//   one timer, armed for the earliest deadline (client-go's delaying queue does the same): 10,000 keys backing
//   off cost one timer, not 10,000. Heap entries a nearer deadline superseded are skipped when they surface.
// - After `shutDown` adds are ignored and pending delays dropped; `get` still hands out what is already queued
//   (as client-go does) and resolves `undefined` once the queue is empty. `shutDownWithDrain` also waits until
//   every key handed out is `done`.
// Metrics go to an optional observer so observability/ can plug prom-client in without kube/ importing it.

import type { Clock, Timer } from "./clock.ts";
import type { RateLimiter } from "./ratelimit.ts";

/** Metrics hooks, the same set client-go's workqueue reports. All optional. */
export interface QueueObserver {
  /** The number of keys waiting (not delayed, not processing) after each change. */
  depth?(n: number): void;
  /** An add that was accepted (also counted when it only marked a processing key dirty). */
  add?(): void;
  /** Time a key waited in the queue before a worker got it. */
  queueLatency?(ms: number): void;
  /** Time from `get` to `done`. */
  workDuration?(ms: number): void;
  /** A rate-limited add (a retry after failure). */
  retry?(): void;
}

export interface WorkQueueOptions {
  readonly clock: Clock;
  readonly rateLimiter: RateLimiter;
  readonly observer?: QueueObserver;
}

/** In-flight work, for "unfinished work" and "longest running processor" gauges. */
export interface InFlight {
  readonly count: number;
  readonly totalMs: number;
  readonly longestMs: number;
}

export class WorkQueue {
  readonly #clock: Clock;
  readonly #limiter: RateLimiter;
  readonly #observer: QueueObserver;

  /** FIFO of keys ready to hand out. */
  #queue: string[] = [];
  /** Keys that need processing: queued ones, plus processing ones re-added meanwhile. */
  readonly #dirty = new Set<string>();
  /** Keys handed out and not yet done, with when they were handed out. */
  readonly #processing = new Map<string, number>();
  /** When each queued key was queued, for latency. */
  readonly #queuedAt = new Map<string, number>();
  /** One pending delayed add per key: its deadline. */
  readonly #delayed = new Map<string, number>();
  /** Deadlines in a binary min-heap (by due, then seq); an entry whose due is no longer the key's is stale. */
  #heap: DelayEntry[] = [];
  #seq = 0;
  /** The one timer, armed for the heap's earliest deadline. */
  #timer: { readonly due: number; readonly timer: Timer } | undefined;
  /** Workers waiting in `get`. */
  #waiters: ((key: string | undefined) => void)[] = [];
  #shuttingDown = false;
  #drainWaiters: (() => void)[] = [];

  constructor(opts: WorkQueueOptions) {
    this.#clock = opts.clock;
    this.#limiter = opts.rateLimiter;
    this.#observer = opts.observer ?? {};
  }

  /** Queues `key` unless it is already queued; marks it dirty if it is being processed. */
  add(key: string): void {
    if (this.#shuttingDown || this.#dirty.has(key)) return;
    this.#observer.add?.();
    this.#dirty.add(key);
    if (this.#processing.has(key)) return;
    this.#push(key);
  }

  /** Adds `key` after `ms`; if a delayed add for it is already pending, the earlier deadline is kept. */
  addAfter(key: string, ms: number): void {
    if (this.#shuttingDown) return;
    if (ms <= 0) {
      this.add(key);
      return;
    }
    const due = this.#clock.now() + ms;
    const pending = this.#delayed.get(key);
    if (pending !== undefined && pending <= due) return;
    this.#delayed.set(key, due);
    heapPush(this.#heap, { due, seq: this.#seq++, key });
    this.#arm();
  }

  /** Keys waiting for their delay to pass. */
  delayedLen(): number {
    return this.#delayed.size;
  }

  /** Drops stale heap tops, then makes sure the timer fires at the earliest live deadline. */
  #arm(): void {
    for (let top = this.#heap[0]; top !== undefined && this.#delayed.get(top.key) !== top.due; top = this.#heap[0])
      heapPop(this.#heap);
    const next = this.#heap[0];
    if (next === undefined) {
      this.#timer?.timer.cancel();
      this.#timer = undefined;
      return;
    }
    if (this.#timer !== undefined && this.#timer.due <= next.due) return;
    this.#timer?.timer.cancel();
    const timer = this.#clock.setTimer(Math.max(1, next.due - this.#clock.now()), () => {
      this.#timer = undefined;
      this.#fire();
    });
    this.#timer = { due: next.due, timer };
  }

  /** Adds every key whose deadline has passed, in deadline order, then re-arms. */
  #fire(): void {
    const now = this.#clock.now();
    for (let top = this.#heap[0]; top !== undefined && top.due <= now; top = this.#heap[0]) {
      heapPop(this.#heap);
      if (this.#delayed.get(top.key) !== top.due) continue;
      this.#delayed.delete(top.key);
      this.add(top.key);
    }
    this.#arm();
  }

  /** Adds `key` after the rate limiter's delay for it (a retry). */
  addRateLimited(key: string): void {
    if (this.#shuttingDown) return;
    this.#observer.retry?.();
    this.addAfter(key, this.#limiter.when(key));
  }

  /** The key succeeded (or will not be retried): reset its backoff. Does not remove it from the queue. */
  forget(key: string): void {
    this.#limiter.forget(key);
  }

  numRequeues(key: string): number {
    return this.#limiter.numRequeues(key);
  }

  /**
   * The next key to process, waiting for one if need be; `undefined` once shut down and empty. The caller must
   * call `done(key)` when finished, whatever the outcome.
   */
  get(): Promise<string | undefined> {
    const key = this.#take();
    if (key !== undefined) return Promise.resolve(key);
    if (this.#shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#waiters.push(resolve);
    });
  }

  /** Ends processing of `key`; re-queues it if it was added while being processed. */
  done(key: string): void {
    const startedAt = this.#processing.get(key);
    if (startedAt === undefined) return;
    this.#processing.delete(key);
    this.#observer.workDuration?.(this.#clock.now() - startedAt);
    if (this.#dirty.has(key)) this.#push(key);
    if (this.#processing.size === 0) this.#releaseDrainWaiters();
  }

  /** Keys waiting to be handed out (not delayed, not processing). */
  len(): number {
    return this.#queue.length;
  }

  shuttingDown(): boolean {
    return this.#shuttingDown;
  }

  inFlight(): InFlight {
    const now = this.#clock.now();
    let totalMs = 0;
    let longestMs = 0;
    for (const startedAt of this.#processing.values()) {
      totalMs += now - startedAt;
      longestMs = Math.max(longestMs, now - startedAt);
    }
    return { count: this.#processing.size, totalMs, longestMs };
  }

  /** Stops accepting adds, drops pending delays, and wakes idle workers with `undefined`. */
  shutDown(): void {
    if (!this.#shuttingDown) {
      this.#shuttingDown = true;
      this.#timer?.timer.cancel();
      this.#timer = undefined;
      this.#delayed.clear();
      this.#heap = [];
    }
    this.#dispatch();
  }

  /** `shutDown`, then resolves once no key is being processed. */
  shutDownWithDrain(): Promise<void> {
    this.shutDown();
    if (this.#processing.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#drainWaiters.push(resolve);
    });
  }

  #push(key: string): void {
    this.#queue.push(key);
    this.#queuedAt.set(key, this.#clock.now());
    this.#observer.depth?.(this.#queue.length);
    this.#dispatch();
  }

  #take(): string | undefined {
    const key = this.#queue.shift();
    if (key === undefined) return undefined;
    const now = this.#clock.now();
    this.#observer.depth?.(this.#queue.length);
    this.#observer.queueLatency?.(now - (this.#queuedAt.get(key) ?? now));
    this.#queuedAt.delete(key);
    this.#dirty.delete(key);
    this.#processing.set(key, now);
    return key;
  }

  /** Hands queued keys to waiting workers; once shut down and empty, releases the rest with `undefined`. */
  #dispatch(): void {
    while (this.#waiters.length > 0 && this.#queue.length > 0) {
      const waiter = this.#waiters.shift();
      waiter?.(this.#take());
    }
    if (this.#shuttingDown && this.#queue.length === 0) {
      const waiters = this.#waiters;
      this.#waiters = [];
      for (const w of waiters) w(undefined);
    }
  }

  #releaseDrainWaiters(): void {
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
  }
}

interface DelayEntry {
  readonly due: number;
  readonly seq: number;
  readonly key: string;
}

function before(a: DelayEntry, b: DelayEntry): boolean {
  return a.due < b.due || (a.due === b.due && a.seq < b.seq);
}

function heapPush(heap: DelayEntry[], entry: DelayEntry): void {
  heap.push(entry);
  let i = heap.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    const p = heap[parent];
    if (p === undefined || !before(entry, p)) break;
    heap[i] = p;
    i = parent;
  }
  heap[i] = entry;
}

function heapPop(heap: DelayEntry[]): DelayEntry | undefined {
  const top = heap[0];
  const last = heap.pop();
  if (top === undefined || last === undefined || heap.length === 0) return top;
  let i = 0;
  for (;;) {
    const l = 2 * i + 1;
    const r = l + 1;
    let smallest = last;
    let at = i;
    const left = heap[l];
    const right = heap[r];
    if (left !== undefined && before(left, smallest)) {
      smallest = left;
      at = l;
    }
    if (right !== undefined && before(right, smallest)) {
      smallest = right;
      at = r;
    }
    if (at === i) break;
    heap[i] = smallest;
    i = at;
  }
  heap[i] = last;
  return top;
}
