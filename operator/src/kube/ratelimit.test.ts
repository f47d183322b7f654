import { HttpMethod, RequestContext } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import {
  bucketRateLimiter,
  defaultControllerRateLimiter,
  exponentialFailureRateLimiter,
  maxOfRateLimiter,
  RequestThrottle,
  TokenBucket,
} from "./ratelimit.ts";

describe("exponentialFailureRateLimiter", () => {
  const cases: { name: string; why: string; failures: number; want: number }[] = [
    { name: "first failure", why: "a transient error is retried almost at once", failures: 1, want: 5 },
    { name: "second failure", why: "each failure doubles the delay", failures: 2, want: 10 },
    { name: "tenth failure", why: "growth stays exponential", failures: 10, want: 5 * 2 ** 9 },
    { name: "eighteenth failure", why: "5 ms · 2^17 = 655 s, still under the cap", failures: 18, want: 655_360 },
    { name: "nineteenth failure", why: "the 1000 s cap bounds a broken key's wait", failures: 19, want: 1_000_000 },
    {
      name: "two thousandth failure",
      why: "2^n overflowing to Infinity still yields the cap",
      failures: 2000,
      want: 1_000_000,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      const limiter = exponentialFailureRateLimiter();
      let last = 0;
      for (let i = 0; i < c.failures; i++) last = limiter.when("k");
      expect(last).toBe(c.want);
      expect(limiter.numRequeues("k")).toBe(c.failures);
    });
  }

  it("keeps keys apart and forget resets only the forgotten key", () => {
    const limiter = exponentialFailureRateLimiter({ baseMs: 1, maxMs: 100 });
    limiter.when("a");
    limiter.when("a");
    limiter.when("b");
    limiter.forget("a");
    expect(limiter.numRequeues("a")).toBe(0);
    expect(limiter.when("a")).toBe(1);
    expect(limiter.when("b")).toBe(2);
  });
});

describe("TokenBucket", () => {
  it("lends up to burst at once, then one token per 1/qps", () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket(clock, { qps: 10, burst: 3 });
    expect([bucket.reserve(), bucket.reserve(), bucket.reserve()]).toEqual([0, 0, 0]);
    expect(bucket.reserve()).toBeCloseTo(100);
    expect(bucket.reserve()).toBeCloseTo(200);
  });

  it("refills with time but never beyond burst", () => {
    const clock = new FakeClock(0);
    const bucket = new TokenBucket(clock, { qps: 10, burst: 3 });
    for (let i = 0; i < 3; i++) bucket.reserve();
    clock.advance(150);
    expect(bucket.tokens()).toBeCloseTo(1.5);
    clock.advance(10_000);
    expect(bucket.tokens()).toBe(3);
  });

  it("rejects a bucket that could never grant a token", () => {
    const clock = new FakeClock(0);
    expect(() => new TokenBucket(clock, { qps: 0, burst: 1 })).toThrow(/qps 0/);
    expect(() => new TokenBucket(clock, { qps: 1, burst: 0 })).toThrow(/burst 0/);
  });
});

describe("combined limiters", () => {
  it("max-of takes the longest delay, reports the largest requeue count, forgets everywhere", () => {
    const clock = new FakeClock(0);
    const limiter = maxOfRateLimiter(
      exponentialFailureRateLimiter({ baseMs: 1, maxMs: 1000 }),
      bucketRateLimiter(clock, { qps: 1, burst: 1 }),
    );
    expect(limiter.when("a")).toBe(1); // bucket had a token; backoff 1 ms wins
    expect(limiter.when("a")).toBeCloseTo(1000); // bucket empty: 1 s beats backoff 2 ms
    expect(limiter.numRequeues("a")).toBe(2);
    limiter.forget("a");
    expect(limiter.numRequeues("a")).toBe(0);
  });

  it("the default controller limiter lets a burst of 100 distinct keys retry fast, then paces at 10 qps", () => {
    const clock = new FakeClock(0);
    const limiter = defaultControllerRateLimiter(clock);
    const delays = Array.from({ length: 101 }, (_, i) => limiter.when(`k${i}`));
    expect(delays.slice(0, 100).every((d) => d === 5)).toBe(true);
    expect(delays[100]).toBeCloseTo(100);
  });
});

describe("RequestThrottle", () => {
  it("lets a burst through at once and paces the rest at qps", async () => {
    const clock = new FakeClock(0);
    const throttle = new RequestThrottle(clock, { qps: 100, burst: 2 });
    const granted: number[] = [];
    const calls = Array.from({ length: 4 }, async () => {
      if (await throttle.acquire()) granted.push(clock.now());
    });
    await clock.advanceAsync(100);
    await Promise.all(calls);
    expect(granted).toEqual([0, 0, 10, 20]);
  });

  it("a waiting request gives up when its signal aborts", async () => {
    const clock = new FakeClock(0);
    const throttle = new RequestThrottle(clock, { qps: 1, burst: 1 });
    await expect(throttle.acquire()).resolves.toBe(true);
    const ac = new AbortController();
    const waiting = throttle.acquire(ac.signal);
    ac.abort();
    await expect(waiting).resolves.toBe(false);
  });

  it(
    "the default limits admit a thousand-copy batch's first 400 calls " + "without waiting, then 200 a second",
    async () => {
      const clock = new FakeClock(0);
      const throttle = new RequestThrottle(clock);
      const ok = await Promise.all(Array.from({ length: 400 }, () => throttle.acquire()));
      expect(ok.every(Boolean)).toBe(true);
      expect(clock.pending()).toBe(0);
      const next = Array.from({ length: 200 }, () => throttle.acquire());
      await clock.advanceAsync(1_000);
      expect((await Promise.all(next)).every(Boolean)).toBe(true);
    },
  );
});

describe("RequestThrottle middleware", () => {
  it("holds a request in pre until a token is free and passes contexts through unchanged", async () => {
    const clock = new FakeClock(0);
    const throttle = new RequestThrottle(clock, { qps: 10, burst: 1 });
    const mw = throttle.middleware();
    const ctx = new RequestContext("https://apiserver/api/v1/namespaces", HttpMethod.GET);
    await expect(mw.pre(ctx)).resolves.toBe(ctx);
    let second = false;
    const pending = mw.pre(ctx).then(() => {
      second = true;
    });
    await clock.advanceAsync(99);
    expect(second).toBe(false);
    await clock.advanceAsync(1);
    await pending;
    expect(second).toBe(true);
  });
});
