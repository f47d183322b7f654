// Lease leader election on the real apiserver with short timings (lease 3 s): of two electors exactly one leads
// and the Lease names it; stopping the leader releases the Lease and the standby takes over; a replacement that
// arrives while the second one leads stays standby.
import { beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import { summarise } from "../../operator/src/kube/errors.ts";
import { LeaderElector, leaseStore } from "../../operator/src/kube/leader.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { eventually, freshNamespace, kubeConfig, kubectlOk } from "../support/cluster.ts";

const timing = { leaseDurationMs: 3_000, renewDeadlineMs: 2_000, retryPeriodMs: 500 };

let clients: Clients;
beforeAll(() => {
  clients = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

interface Replica {
  readonly identity: string;
  readonly elector: LeaderElector;
  readonly stop: AbortController;
  readonly done: Promise<void>;
  readonly log: string[];
}

function replica(ns: string, identity: string): Replica {
  const log: string[] = [];
  const elector = new LeaderElector({
    identity,
    store: leaseStore(clients.coordination, ns, "arraycopy-operator"),
    clock: realClock,
    timing,
    onStartedLeading: () => {
      log.push("started");
    },
    onStoppedLeading: () => log.push("stopped"),
    onError: (e) => log.push(`error ${summarise(e)}`),
  });
  const stop = new AbortController();
  return { identity, elector, stop, done: elector.run(stop.signal), log };
}

function holder(ns: string): string {
  return kubectlOk(["get", "lease", "-n", ns, "arraycopy-operator", "-o", "jsonpath={.spec.holderIdentity}"]);
}

describe("LeaderElector on the real apiserver", () => {
  it("one of two leads; a clean stop hands over to the other", async () => {
    const ns = freshNamespace("lead");
    const a = replica(ns, "replica-a");
    const b = replica(ns, "replica-b");
    const leader = await eventually(
      () => {
        const leaders = [a, b].filter((r) => r.elector.isLeader());
        expect(leaders).toHaveLength(1);
        const [l] = leaders;
        if (l === undefined) throw new Error("no leader");
        expect(holder(ns)).toBe(l.identity);
        return l;
      },
      20_000,
      100,
    );
    const standby = leader === a ? b : a;
    // Stays that way over several renewals.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(leader.elector.isLeader()).toBe(true);
    expect(standby.elector.isLeader()).toBe(false);

    leader.stop.abort();
    await leader.done;
    expect(leader.log).toEqual(["started", "stopped"]);
    await eventually(
      () => {
        expect(standby.elector.isLeader()).toBe(true);
        expect(holder(ns)).toBe(standby.identity);
      },
      20_000,
      100,
    );

    const c = replica(ns, "replica-c");
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(c.elector.isLeader()).toBe(false);
    expect(standby.elector.isLeader()).toBe(true);

    standby.stop.abort();
    c.stop.abort();
    await Promise.all([standby.done, c.done]);
    expect(standby.log.filter((l) => !l.startsWith("error"))).toEqual(["started", "stopped"]);
    // The released Lease names nobody.
    expect(holder(ns)).toBe("");
  });
});
