import { describe, expect, it } from "vitest";
import { FakeClock, settle } from "./clock.ts";
import { exponentialFailureRateLimiter } from "./ratelimit.ts";
import { WorkQueue } from "./workqueue.ts";
import type { QueueObserver } from "./workqueue.ts";

interface Recorded {
  depth: number[];
  adds: number;
  latency: number[];
  work: number[];
  retries: number;
}

function recorder(): { observer: QueueObserver; seen: Recorded } {
  const seen: Recorded = { depth: [], adds: 0, latency: [], work: [], retries: 0 };
  const observer: QueueObserver = {
    depth: (n) => seen.depth.push(n),
    add: () => {
      seen.adds++;
    },
    queueLatency: (ms) => seen.latency.push(ms),
    workDuration: (ms) => seen.work.push(ms),
    retry: () => {
      seen.retries++;
    },
  };
  return { observer, seen };
}

function queue(clock = new FakeClock(0), observer?: QueueObserver): { q: WorkQueue; clock: FakeClock } {
  const rateLimiter = exponentialFailureRateLimiter({ baseMs: 5, maxMs: 1000 });
  const q = new WorkQueue(observer === undefined ? { clock, rateLimiter } : { clock, rateLimiter, observer });
  return { q, clock };
}

/** Takes every key that is ready now, without waiting. */
async function drainReady(q: WorkQueue): Promise<string[]> {
  const keys: string[] = [];
  while (q.len() > 0) {
    const key = await q.get();
    if (key === undefined) break;
    keys.push(key);
  }
  return keys;
}

describe("WorkQueue ordering and dedup", () => {
  const cases: { name: string; why: string; run: (q: WorkQueue) => Promise<string[]>; want: string[] }[] = [
    {
      name: "FIFO",
      why: "keys are handed out in the order they were first added",
      run: (q) => {
        q.add("a");
        q.add("b");
        q.add("c");
        return drainReady(q);
      },
      want: ["a", "b", "c"],
    },
    {
      name: "dedup while queued",
      why: "a burst of watch events for one object costs one reconcile",
      run: (q) => {
        q.add("a");
        q.add("b");
        q.add("a");
        q.add("a");
        return drainReady(q);
      },
      want: ["a", "b"],
    },
    {
      name: "re-add after done",
      why: "a key finished processing can be queued again normally",
      run: async (q) => {
        q.add("a");
        const k = await q.get();
        if (k !== undefined) q.done(k);
        q.add("a");
        return drainReady(q);
      },
      want: ["a"],
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, async () => {
      const { q } = queue();
      expect(await c.run(q)).toEqual(c.want);
    });
  }
});

describe("WorkQueue processing", () => {
  it("never hands out a key that is being processed, even to a second worker", async () => {
    const { q } = queue();
    q.add("a");
    expect(await q.get()).toBe("a");
    q.add("a");
    expect(q.len()).toBe(0);
    let second: string | undefined = "unset";
    const worker2 = q.get().then((k) => {
      second = k;
    });
    await settle();
    expect(second).toBe("unset");
    q.done("a");
    await worker2;
    expect(second).toBe("a");
  });

  it("a key re-added while processing is queued exactly once when done", async () => {
    const { q } = queue();
    q.add("a");
    await q.get();
    q.add("a");
    q.add("a");
    q.add("b");
    q.done("a");
    expect(await drainReady(q)).toEqual(["b", "a"]);
  });

  it("done on a key that was not processing changes nothing", () => {
    const { q } = queue();
    q.add("a");
    q.done("a");
    q.done("zzz");
    expect(q.len()).toBe(1);
  });

  it("a waiting worker wakes on add", async () => {
    const { q } = queue();
    const got = q.get();
    q.add("a");
    await expect(got).resolves.toBe("a");
  });

  it("reports in-flight work for the unfinished-work gauges", async () => {
    const { q, clock } = queue();
    q.add("a");
    q.add("b");
    await q.get();
    clock.advance(30);
    await q.get();
    clock.advance(10);
    expect(q.inFlight()).toEqual({ count: 2, totalMs: 50, longestMs: 40 });
  });
});

describe("WorkQueue delayed adds", () => {
  it("adds a delayed key only when its time comes, in deadline order", async () => {
    const { q, clock } = queue();
    q.addAfter("late", 300);
    q.addAfter("early", 100);
    q.addAfter("now", 0);
    expect(await drainReady(q)).toEqual(["now"]);
    clock.advance(99);
    expect(q.len()).toBe(0);
    clock.advance(1);
    expect(await drainReady(q)).toEqual(["early"]);
    clock.advance(200);
    expect(await drainReady(q)).toEqual(["late"]);
  });

  const earliest: { name: string; why: string; first: number; second: number; due: number }[] = [
    {
      name: "sooner replaces later",
      why: "a short poll must not be pushed back by a long one",
      first: 500,
      second: 100,
      due: 100,
    },
    {
      name: "later does not replace sooner",
      why: "repeated long delays never postpone a due check",
      first: 100,
      second: 500,
      due: 100,
    },
  ];
  for (const c of earliest) {
    it(`earliest deadline wins — ${c.name}: ${c.why}`, async () => {
      const { q, clock } = queue();
      q.addAfter("a", c.first);
      q.addAfter("a", c.second);
      clock.advance(c.due - 1);
      expect(q.len()).toBe(0);
      clock.advance(1);
      expect(await drainReady(q)).toEqual(["a"]);
      clock.advance(1000);
      expect(q.len()).toBe(0);
      expect(clock.pending()).toBe(0);
    });
  }

  it(
    "holds any number of delayed keys under one timer and releases each at " + "its deadline, in deadline order",
    async () => {
      const { q, clock } = queue();
      // Deterministic pseudo-random deadlines, with ties, and some keys re-added sooner (superseded heap entries).
      let seed = 7;
      const rand = (n: number) => (seed = (seed * 1103515245 + 12345) % 2 ** 31) % n;
      const due = new Map<string, number>();
      for (let i = 0; i < 2000; i++) {
        const key = `k${String(i % 1500)}`;
        const ms = 1 + rand(5000);
        q.addAfter(key, ms);
        due.set(key, Math.min(due.get(key) ?? Infinity, ms));
      }
      expect(clock.pending()).toBe(1);
      expect(q.delayedLen()).toBe(1500);
      const released: { key: string; at: number }[] = [];
      for (let t = 1; t <= 5000; t++) {
        clock.advance(1);
        for (const key of await drainReady(q)) released.push({ key, at: t });
      }
      expect(released).toHaveLength(1500);
      for (const { key, at } of released) expect(at, key).toBe(due.get(key));
      expect(released.map((r) => r.at)).toEqual([...released.map((r) => r.at)].sort((a, b) => a - b));
      expect(clock.pending()).toBe(0);
      expect(q.delayedLen()).toBe(0);
    },
  );

  it("a delayed key that comes due while queued is not duplicated", async () => {
    const { q, clock } = queue();
    q.addAfter("a", 10);
    q.add("a");
    clock.advance(10);
    expect(await drainReady(q)).toEqual(["a"]);
  });
});

describe("WorkQueue rate-limited retries", () => {
  it("backs off exponentially per key, capped, and forget resets", async () => {
    const { q, clock } = queue();
    const delays: number[] = [];
    for (let i = 0; i < 10; i++) {
      const start = clock.now();
      q.addRateLimited("a");
      while (q.len() === 0) clock.advance(1);
      delays.push(clock.now() - start);
      const key = await q.get();
      if (key !== undefined) q.done(key);
    }
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320, 640, 1000, 1000]);
    expect(q.numRequeues("a")).toBe(10);
    q.forget("a");
    expect(q.numRequeues("a")).toBe(0);
    q.addRateLimited("a");
    clock.advance(5);
    expect(q.len()).toBe(1);
  });
});

describe("WorkQueue shutdown", () => {
  it("wakes idle workers, ignores adds, drops delays, but still hands out queued keys", async () => {
    const { q, clock } = queue();
    const idle = q.get();
    await settle();
    q.shutDown();
    await expect(idle).resolves.toBeUndefined();

    const { q: q2, clock: clock2 } = queue();
    q2.add("queued");
    q2.addAfter("delayed", 10);
    q2.shutDown();
    q2.add("late");
    q2.addRateLimited("late");
    clock2.advance(100);
    expect(q2.shuttingDown()).toBe(true);
    expect(await q2.get()).toBe("queued");
    expect(await q2.get()).toBeUndefined();
    expect(clock.pending() + clock2.pending()).toBe(0);
  });

  it("shutDownWithDrain resolves only when every in-flight key is done", async () => {
    const { q } = queue();
    q.add("a");
    q.add("b");
    await q.get();
    await q.get();
    let drained = false;
    const drain = q.shutDownWithDrain().then(() => {
      drained = true;
    });
    q.done("a");
    await settle();
    expect(drained).toBe(false);
    q.done("b");
    await drain;
    expect(drained).toBe(true);
  });

  it("shutDownWithDrain with nothing in flight resolves at once", async () => {
    const { q } = queue();
    await expect(q.shutDownWithDrain()).resolves.toBeUndefined();
  });
});

describe("WorkQueue metrics", () => {
  it("reports adds, depth, queue latency, work duration and retries", async () => {
    const { observer, seen } = recorder();
    const { q, clock } = queue(new FakeClock(0), observer);
    q.add("a");
    q.add("a");
    clock.advance(7);
    await q.get();
    clock.advance(20);
    q.done("a");
    q.addRateLimited("a");
    expect(seen).toEqual({ depth: [1, 0], adds: 1, latency: [7], work: [20], retries: 1 });
  });
});
