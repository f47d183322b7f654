// The event recorder on the real apiserver: an events.k8s.io/v1 Event is accepted as built (MicroTime eventTime,
// reporting controller and instance, regarding a VirtualCopy), a repeat is folded into `series` by a JSON patch
// the apiserver accepts, and a different note is a new Event. Over both sinks: client-node's EventsV1Api and the
// RestWriter the operator uses.
import { beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import { summarise } from "../../operator/src/kube/errors.ts";
import {
  EventRecorder,
  eventsApiSink,
  restEventSink,
  type EventInput,
  type EventSink,
} from "../../operator/src/kube/events.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { createVirtualCopy, freshNamespace, installCrds, kubeConfig, kubectlOk } from "../support/cluster.ts";

let clients: Clients;
beforeAll(() => {
  installCrds();
  clients = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

interface EventView {
  readonly reason: string;
  readonly note: string;
  readonly regardingName: string;
  readonly eventTime: string;
  readonly seriesCount: number | undefined;
  readonly reportingController: string;
}

function events(ns: string): EventView[] {
  const out: unknown = JSON.parse(kubectlOk(["get", "events.v1.events.k8s.io", "-n", ns, "-o", "json"]));
  const items: unknown = typeof out === "object" && out !== null ? Reflect.get(out, "items") : undefined;
  if (!Array.isArray(items)) return [];
  const str = (o: unknown, k: string): string => {
    const v: unknown = typeof o === "object" && o !== null ? Reflect.get(o, k) : undefined;
    return typeof v === "string" ? v : "";
  };
  return items.map((e: unknown) => {
    const series: unknown = typeof e === "object" && e !== null ? Reflect.get(e, "series") : undefined;
    const count: unknown = typeof series === "object" && series !== null ? Reflect.get(series, "count") : undefined;
    const regarding: unknown = typeof e === "object" && e !== null ? Reflect.get(e, "regarding") : undefined;
    return {
      reason: str(e, "reason"),
      note: str(e, "note"),
      regardingName: str(regarding, "name"),
      eventTime: str(e, "eventTime"),
      seriesCount: typeof count === "number" ? count : undefined,
      reportingController: str(e, "reportingController"),
    };
  });
}

const sinks = {
  "client-node": (): EventSink => eventsApiSink(clients.events),
  rest: (): EventSink => {
    if (clients.rest === undefined) throw new Error("no RestWriter for the test cluster");
    return restEventSink(clients.rest);
  },
};

describe.each(Object.keys(sinks) as (keyof typeof sinks)[])(
  "EventRecorder on the real apiserver over %s",
  (sinkName) => {
    it("creates an events.k8s.io/v1 Event and folds a repeat into its series", async () => {
      const ns = freshNamespace("ev");
      const uid = createVirtualCopy(ns, "a");
      const errors: string[] = [];
      const recorder = new EventRecorder({
        sink: sinks[sinkName](),
        clock: realClock,
        reporter: { controller: "arraycopy.io/operator", instance: "test-0" },
        onError: (e) => errors.push(summarise(e)),
      });
      const failed: EventInput = {
        regarding: { apiVersion: "arraycopy.io/v1alpha1", kind: "VirtualCopy", namespace: ns, name: "a", uid },
        type: "Warning",
        reason: "CreateFailed",
        action: "Create",
        note: "cannot create virtual copy: array busy (53)",
      };

      await recorder.record(failed);
      expect(errors).toEqual([]);
      let seen = events(ns);
      expect(seen).toHaveLength(1);
      expect(seen[0]).toMatchObject({
        reason: "CreateFailed",
        regardingName: "a",
        reportingController: "arraycopy.io/operator",
        seriesCount: undefined,
      });
      // MicroTime: six fractional digits on the wire.
      expect(seen[0]?.eventTime).toMatch(/\.\d{6}Z$/);

      await recorder.record(failed);
      await recorder.record(failed);
      expect(errors).toEqual([]);
      seen = events(ns);
      expect(seen).toHaveLength(1);
      expect(seen[0]?.seriesCount).toBe(3);

      await recorder.record({ ...failed, note: "cannot create virtual copy: volume vol1 not found (23)" });
      expect(errors).toEqual([]);
      expect(
        events(ns)
          .map((e) => e.note)
          .sort(),
      ).toEqual([
        "cannot create virtual copy: array busy (53)",
        "cannot create virtual copy: volume vol1 not found (23)",
      ]);
    });
  },
);
