import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import { decide, LeaderElector, observe, released } from "./leader.ts";
import type { LeaseRecord, LeaseStore, Observation, StoredLease } from "./leader.ts";

const held = (holder: string, mods: Partial<LeaseRecord> = {}): LeaseRecord => ({
  holderIdentity: holder,
  leaseDurationSeconds: 15,
  acquireTime: 0,
  renewTime: 0,
  leaseTransitions: 3,
  ...mods,
});
const seen = (record: LeaseRecord, observedAt: number, resourceVersion = "7"): Observation => ({
  lease: { record, resourceVersion },
  observedAt,
});

describe("decide", () => {
  const cases: {
    name: string;
    why: string;
    now: number;
    observation: Observation | undefined;
    want: ReturnType<typeof decide>;
  }[] = [
    {
      name: "no Lease",
      why: "the first replica creates it and leads",
      now: 100,
      observation: undefined,
      want: {
        kind: "create",
        record: {
          holderIdentity: "me",
          leaseDurationSeconds: 15,
          acquireTime: 100,
          renewTime: 100,
          leaseTransitions: 0,
        },
      },
    },
    {
      name: "held by me",
      why: "renewal moves only renewTime; acquireTime and transitions stay",
      now: 5_000,
      observation: seen(held("me", { acquireTime: 1_000, renewTime: 3_000 }), 3_000),
      want: { kind: "update", resourceVersion: "7", record: held("me", { acquireTime: 1_000, renewTime: 5_000 }) },
    },
    {
      name: "held by another, recently changed",
      why: "a standby follows until the Lease expires",
      now: 10_000,
      observation: seen(held("other"), 2_000),
      want: { kind: "follow", holder: "other", expiresAt: 17_000 },
    },
    {
      name: "held by another, unchanged for leaseDuration",
      why: "a dead leader's Lease is taken, and the transition counted",
      now: 17_000,
      observation: seen(held("other"), 2_000),
      want: {
        kind: "update",
        resourceVersion: "7",
        record: {
          holderIdentity: "me",
          leaseDurationSeconds: 15,
          acquireTime: 17_000,
          renewTime: 17_000,
          leaseTransitions: 4,
        },
      },
    },
    {
      name: "holder's renewTime in our future",
      why: "a skewed clock on the holder cannot keep a dead Lease alive: only local observation counts",
      now: 20_000,
      observation: seen(held("other", { renewTime: 1_000_000 }), 4_000),
      want: {
        kind: "update",
        resourceVersion: "7",
        record: {
          holderIdentity: "me",
          leaseDurationSeconds: 15,
          acquireTime: 20_000,
          renewTime: 20_000,
          leaseTransitions: 4,
        },
      },
    },
    {
      name: "released",
      why: "after a clean shutdown the standby takes over at once",
      now: 2_500,
      observation: seen(held("", { leaseDurationSeconds: 1 }), 2_000),
      want: {
        kind: "update",
        resourceVersion: "7",
        record: {
          holderIdentity: "me",
          leaseDurationSeconds: 15,
          acquireTime: 2_500,
          renewTime: 2_500,
          leaseTransitions: 4,
        },
      },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      expect(decide({ identity: "me", now: c.now, leaseDurationSeconds: 15, observation: c.observation })).toEqual(
        c.want,
      );
    });
  }

  it("observe moves the observation time only when the Lease changed", () => {
    const first = observe(undefined, { record: held("a"), resourceVersion: "1" }, 100);
    expect(observe(first, { record: held("a"), resourceVersion: "1" }, 900).observedAt).toBe(100);
    expect(observe(first, { record: held("a"), resourceVersion: "2" }, 900).observedAt).toBe(900);
  });

  it("released clears the holder and shortens the Lease", () => {
    expect(released(held("me"), 42)).toEqual({ ...held(""), leaseDurationSeconds: 1, acquireTime: 42, renewTime: 42 });
  });
});

function conflict(reason: string): ApiException<string> {
  return new ApiException(409, "x", JSON.stringify({ kind: "Status", code: 409, reason, message: reason }), {});
}

/** One Lease in memory with the apiserver's optimistic concurrency; each replica gets its own view of it. */
class MemoryLease {
  lease: StoredLease | undefined;
  #rv = 0;
  view(cut: () => boolean = () => false): LeaseStore {
    const unreachable = (): Promise<never> =>
      Promise.reject(Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" }));
    return {
      get: () => (cut() ? unreachable() : Promise.resolve(this.lease)),
      create: (record) => {
        if (cut()) return unreachable();
        if (this.lease !== undefined) return Promise.reject(conflict("AlreadyExists"));
        return Promise.resolve(this.#write(record));
      },
      update: (record, resourceVersion) => {
        if (cut()) return unreachable();
        if (this.lease?.resourceVersion !== resourceVersion) return Promise.reject(conflict("Conflict"));
        return Promise.resolve(this.#write(record));
      },
    };
  }
  #write(record: LeaseRecord): StoredLease {
    this.lease = { record, resourceVersion: String(++this.#rv) };
    return this.lease;
  }
}

interface Replica {
  readonly elector: LeaderElector;
  readonly stop: AbortController;
  readonly done: Promise<void>;
  readonly log: string[];
  /** The signal handed to onStartedLeading, once leadership began. */
  readonly leadership: { signal?: AbortSignal };
}

function replica(identity: string, clock: FakeClock, store: LeaseStore): Replica {
  const log: string[] = [];
  const stop = new AbortController();
  const leadership: { signal?: AbortSignal } = {};
  const elector = new LeaderElector({
    identity,
    store,
    clock,
    random: () => 0,
    onStartedLeading: (signal) => {
      leadership.signal = signal;
      log.push(`started@${clock.now()}`);
    },
    onStoppedLeading: () => log.push(`stopped@${clock.now()}`),
    onNewLeader: (id) => log.push(`leader=${id}@${clock.now()}`),
  });
  return { elector, stop, done: elector.run(stop.signal), log, leadership };
}

/** Advances one second at a time, checking that two replicas never lead at once. */
async function runFor(clock: FakeClock, ms: number, replicas: Replica[]): Promise<void> {
  for (let t = 0; t < ms; t += 1_000) {
    await clock.advanceAsync(1_000);
    expect(replicas.filter((r) => r.elector.isLeader()).length).toBeLessThanOrEqual(1);
  }
}

describe("LeaderElector", () => {
  it("the first replica creates the Lease and leads; it renews every retryPeriod", async () => {
    const clock = new FakeClock(0);
    const memory = new MemoryLease();
    const a = replica("a", clock, memory.view());
    await runFor(clock, 6_000, [a]);
    expect(a.elector.isLeader()).toBe(true);
    expect(a.log).toEqual(["leader=a@0", "started@0"]);
    expect(memory.lease?.record).toMatchObject({ holderIdentity: "a", acquireTime: 0, renewTime: 6_000 });
    a.stop.abort();
    await a.done;
  });

  it("a clean stop releases the Lease and the standby takes over at its next poll", async () => {
    const clock = new FakeClock(0);
    const memory = new MemoryLease();
    const a = replica("a", clock, memory.view());
    const b = replica("b", clock, memory.view());
    await runFor(clock, 10_000, [a, b]);
    // b lost the create race at 0 and saw a as leader at its next poll.
    expect(b.log).toEqual(["leader=a@2000"]);
    a.stop.abort();
    await a.done;
    expect(a.leadership.signal?.aborted).toBe(true);
    expect(memory.lease?.record.holderIdentity).toBe("");
    await runFor(clock, 2_000, [a, b]);
    expect(b.elector.isLeader()).toBe(true);
    expect(memory.lease?.record).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    b.stop.abort();
    await b.done;
  });

  it(
    "a cut-off leader steps down after renewDeadline; the standby takes over within leaseDuration of the " +
      "last renewal, never overlapping",
    async () => {
      const clock = new FakeClock(0);
      const memory = new MemoryLease();
      let partitioned = false;
      const a = replica(
        "a",
        clock,
        memory.view(() => partitioned),
      );
      const b = replica("b", clock, memory.view());
      await runFor(clock, 10_000, [a, b]);
      const lastRenew = memory.lease?.record.renewTime ?? 0;
      partitioned = true;
      await runFor(clock, 20_000, [a, b]);
      expect(a.log).toContain(`stopped@${lastRenew + 10_000}`);
      await a.done;
      const took = b.log.find((l) => l.startsWith("started@")) ?? "";
      const at = Number(took.slice("started@".length));
      expect(at).toBeGreaterThanOrEqual(lastRenew + 15_000);
      expect(at).toBeLessThanOrEqual(lastRenew + 15_000 + 2 * 2_000);
      b.stop.abort();
      await b.done;
    },
  );

  it("a leader that sees another holder in the Lease steps down at once", async () => {
    const clock = new FakeClock(0);
    const memory = new MemoryLease();
    const a = replica("a", clock, memory.view());
    await runFor(clock, 2_000, [a]);
    const current = memory.lease;
    if (current === undefined) throw new Error("no lease");
    await memory.view().update({ ...current.record, holderIdentity: "intruder" }, current.resourceVersion);
    await runFor(clock, 2_000, [a]);
    expect(a.log).toEqual(["leader=a@0", "started@0", "leader=intruder@4000", "stopped@4000"]);
    await a.done;
  });

  it("two replicas racing for a free Lease: exactly one wins", async () => {
    const clock = new FakeClock(0);
    const memory = new MemoryLease();
    const replicas = [
      replica("a", clock, memory.view()),
      replica("b", clock, memory.view()),
      replica("c", clock, memory.view()),
    ];
    await runFor(clock, 4_000, replicas);
    expect(replicas.filter((r) => r.elector.isLeader())).toHaveLength(1);
    for (const r of replicas) r.stop.abort();
    await Promise.all(replicas.map((r) => r.done));
  });

  it("rejects timings under which a leader could outlive its Lease", () => {
    expect(
      () =>
        new LeaderElector({
          identity: "a",
          store: new MemoryLease().view(),
          clock: new FakeClock(0),
          timing: { leaseDurationMs: 10_000, renewDeadlineMs: 10_000, retryPeriodMs: 2_000 },
          onStartedLeading: () => undefined,
          onStoppedLeading: () => undefined,
        }),
    ).toThrow(/renewDeadline < leaseDuration/);
  });
});
