// The throttled clients on the real apiserver: requests made through makeClients authenticate with the
// kubeconfig's credentials and pass the RequestThrottle first. Time is a FakeClock, so "held back until the bucket
// refills" is observed without measuring time: with burst 1, the second request reaches the wire only after the
// clock moves by 1/qps.
import { describe, expect, it } from "vitest";
import type { Middleware } from "@kubernetes/client-node";
import { FakeClock, realClock } from "../../operator/src/kube/clock.ts";
import { makeClients } from "../../operator/src/kube/client.ts";
import { isForbidden } from "../../operator/src/kube/errors.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { eventually, kubeConfig } from "../support/cluster.ts";

function counting(): { middleware: Middleware; sent: () => number } {
  let n = 0;
  return {
    middleware: {
      pre: (ctx) => {
        n++;
        return Promise.resolve(ctx);
      },
      post: (ctx) => Promise.resolve(ctx),
    },
    sent: () => n,
  };
}

describe("makeClients on the real apiserver", () => {
  it("throttles every request at the configured qps and burst", async () => {
    const clock = new FakeClock();
    const counter = counting();
    const clients = makeClients(kubeConfig(), {
      throttle: new RequestThrottle(clock, { qps: 2, burst: 1 }),
      middleware: [counter.middleware],
    });
    const first = clients.core.readNamespace({ name: "default" });
    const second = clients.coordination.listNamespacedLease({ namespace: "default" });
    expect((await first).metadata?.name).toBe("default");
    expect(counter.sent()).toBe(1);
    await clock.advanceAsync(499);
    expect(counter.sent()).toBe(1);
    await clock.advanceAsync(1);
    await eventually(() => {
      expect(counter.sent()).toBe(2);
    });
    expect((await second).items).toBeDefined();
  });

  it("sends the kubeconfig user's credentials", async () => {
    const alice = makeClients(kubeConfig("alice"), { throttle: new RequestThrottle(realClock) });
    const err = await alice.core.listNamespace().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isForbidden(err)).toBe(true);
  });
});
