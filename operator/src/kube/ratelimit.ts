// Rate limiters with client-go's semantics (k8s.io/client-go/util/workqueue, util/flowcontrol), over our Clock.
//
// Work-queue limiters answer "how long should this key wait before its next try?": per-key exponential failure
// backoff, an overall token bucket, and the max of several (client-go's DefaultControllerRateLimiter). The request
// throttle answers "may this API call go now?" for every call the operator makes.
//
// Invariants: `when` counts a failure (or takes a token) each time it is called; `forget` resets only the key's
// backoff, never the shared bucket; a token bucket never holds more than `burst` tokens and lends future tokens
// by returning a delay rather than refusing.

import type { Middleware } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";

export interface RateLimiter<K = string> {
  /** Delay in ms before `item` may be processed again; records one more requeue. */
  when(item: K): number;
  /** The item succeeded: reset its failure history. */
  forget(item: K): void;
  /** How many times `when` was called since the last `forget`. */
  numRequeues(item: K): number;
}

export interface ExponentialOptions {
  /** First delay (client-go: 5 ms). */
  readonly baseMs?: number;
  /** Cap (client-go: 1000 s). */
  readonly maxMs?: number;
}

/** Per-item exponential backoff: base · 2^failures, capped at max. */
export function exponentialFailureRateLimiter<K = string>(opts: ExponentialOptions = {}): RateLimiter<K> {
  const baseMs = opts.baseMs ?? 5;
  const maxMs = opts.maxMs ?? 1_000_000;
  const failures = new Map<K, number>();
  return {
    when(item) {
      const exp = failures.get(item) ?? 0;
      failures.set(item, exp + 1);
      // 2^exp overflows to Infinity long before it matters; the cap handles both.
      const delay = baseMs * 2 ** exp;
      return Number.isFinite(delay) ? Math.min(delay, maxMs) : maxMs;
    },
    forget(item) {
      failures.delete(item);
    },
    numRequeues(item) {
      return failures.get(item) ?? 0;
    },
  };
}

export interface BucketOptions {
  /** Sustained tokens per second. */
  readonly qps: number;
  /** Bucket size: how many may go at once after a quiet spell. */
  readonly burst: number;
}

/**
 * A token bucket in the style of golang.org/x/time/rate: tokens refill continuously at `qps` up to `burst`;
 * `reserve()` takes one token now, going into debt if need be, and returns how long the caller must wait for it.
 */
export class TokenBucket {
  readonly #clock: Clock;
  readonly #qps: number;
  readonly #burst: number;
  #tokens: number;
  #last: number;

  constructor(clock: Clock, opts: BucketOptions) {
    if (!(opts.qps > 0) || !(opts.burst >= 1)) {
      throw new Error(`invalid token bucket: qps ${opts.qps} must be > 0 and burst ${opts.burst} >= 1`);
    }
    this.#clock = clock;
    this.#qps = opts.qps;
    this.#burst = opts.burst;
    this.#tokens = opts.burst;
    this.#last = clock.now();
  }

  /** Tokens available now (may be negative while reservations are outstanding). */
  tokens(): number {
    this.#refill();
    return this.#tokens;
  }

  /** Takes one token; returns the wait in ms before it is really available (0 when one was in the bucket). */
  reserve(): number {
    this.#refill();
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#qps) * 1000;
  }

  #refill(): void {
    const now = this.#clock.now();
    const elapsed = Math.max(0, now - this.#last);
    this.#last = now;
    this.#tokens = Math.min(this.#burst, this.#tokens + (elapsed * this.#qps) / 1000);
  }
}

/** The overall limiter: every requeue takes a token from one shared bucket, whatever the key. */
export function bucketRateLimiter<K = string>(clock: Clock, opts: BucketOptions): RateLimiter<K> {
  const bucket = new TokenBucket(clock, opts);
  return {
    when: () => bucket.reserve(),
    forget: () => undefined,
    numRequeues: () => 0,
  };
}

/** The longest delay any of `limiters` asks for; requeues are the largest count; forget resets all. */
export function maxOfRateLimiter<K = string>(...limiters: readonly RateLimiter<K>[]): RateLimiter<K> {
  return {
    when: (item) => limiters.reduce((max, l) => Math.max(max, l.when(item)), 0),
    forget: (item) => {
      for (const l of limiters) l.forget(item);
    },
    numRequeues: (item) => limiters.reduce((max, l) => Math.max(max, l.numRequeues(item)), 0),
  };
}

/** client-go's DefaultControllerRateLimiter: per-key 5 ms → 1000 s backoff, and 10 qps / burst 100 overall. */
export function defaultControllerRateLimiter<K = string>(clock: Clock): RateLimiter<K> {
  return maxOfRateLimiter<K>(
    exponentialFailureRateLimiter<K>({ baseMs: 5, maxMs: 1_000_000 }),
    bucketRateLimiter<K>(clock, { qps: 10, burst: 100 }),
  );
}

/**
 * Client-side request throttle defaults. client-go's are 5 qps / burst 10, and the upstream snapshot-controller
 * ran a batch of snapshots about 8× slower with them than with limits raised, because every copy costs several
 * calls (read, finalizer, status, events). A batch of a thousand copies is roughly 4–5 thousand calls: at 200 qps
 * with a burst of 400 that is about 20 s of API time, well within what the apiserver's own priority and fairness
 * protects itself against, so the apiserver rather than this throttle decides when we are too busy (429).
 */
export const defaultRequestLimits: BucketOptions = { qps: 200, burst: 400 };

/** Waits for a token before each API request (client-go's flowcontrol token bucket `Wait`). */
export class RequestThrottle {
  readonly #clock: Clock;
  readonly #bucket: TokenBucket;

  constructor(clock: Clock, opts: BucketOptions = defaultRequestLimits) {
    this.#clock = clock;
    this.#bucket = new TokenBucket(clock, opts);
  }

  /**
   * Resolves true when the request may go, false if `signal` aborted first. An aborted wait keeps its token
   * spent: returning it would need reservation bookkeeping, and shutdown is the only reason to abort.
   */
  async acquire(signal?: AbortSignal): Promise<boolean> {
    if (signal?.aborted === true) return false;
    const wait = this.#bucket.reserve();
    if (wait <= 0) return true;
    return this.#clock.sleep(wait, signal);
  }

  /**
   * A client-node promise middleware that throttles every request made through a Configuration, e.g.
   * `createConfiguration({ ..., promiseMiddleware: [throttle.middleware()] })`.
   */
  middleware(): Middleware {
    return {
      pre: async (ctx) => {
        await this.acquire();
        return ctx;
      },
      post: (ctx) => Promise.resolve(ctx),
    };
  }
}
