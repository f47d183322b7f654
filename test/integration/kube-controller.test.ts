// The controller loop on the real apiserver: an informer, the work queue and a trivial reconcile that writes a
// Ready condition through the status writer. A hundred VirtualCopies converge to Ready=True, a spec change of all
// of them converges again (observedGeneration 2), no key is ever reconciled by two workers at once, and shutdown
// resolves with nothing left running.
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import { Controller, done } from "../../operator/src/kube/controller.ts";
import {
  Informer,
  clientNodeWatch,
  decodeUntyped,
  rawList,
  type UntypedObject,
} from "../../operator/src/kube/informer.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { StatusWriter, customObjectStatusApplier, type StatusTarget } from "../../operator/src/kube/status.ts";
import { eventually, freshNamespace, installCrds, kubeConfig, kubectlOk } from "../support/cluster.ts";

const target: StatusTarget = {
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  group: "arraycopy.io",
  version: "v1alpha1",
  plural: "virtualcopies",
};
const count = 100;

let clients: Clients;
beforeAll(() => {
  installCrds();
  clients = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

function generationOf(obj: UntypedObject): number {
  const g: unknown = Reflect.get(obj.metadata ?? {}, "generation");
  return typeof g === "number" ? g : 0;
}

/** "name=status/observedGeneration" for every copy whose Ready condition is set, via kubectl. */
function readyByName(ns: string): string[] {
  const out = kubectlOk([
    "get",
    "virtualcopies",
    "-n",
    ns,
    "-o",
    "jsonpath={range .items[*]}{.metadata.name}=" +
      '{.status.conditions[?(@.type=="Ready")].status}/' +
      '{.status.conditions[?(@.type=="Ready")].observedGeneration}{"\\n"}{end}',
  ]);
  return out.split("\n").filter((l) => l !== "");
}

describe("Controller on the real apiserver", () => {
  it("converges a hundred objects, twice, never reconciling one key concurrently", async () => {
    const ns = freshNamespace("ctl");
    const informer = new Informer<UntypedObject>({
      name: target.plural,
      path: `/apis/${target.group}/${target.version}/namespaces/${ns}/${target.plural}`,
      list: async () =>
        rawList(
          await clients.customObjects.listNamespacedCustomObject({
            group: target.group,
            version: target.version,
            namespace: ns,
            plural: target.plural,
          }),
        ),
      watch: clientNodeWatch(kubeConfig()),
      clock: realClock,
      decode: decodeUntyped,
    });
    const status = new StatusWriter({
      target,
      fieldManager: "arraycopy-test",
      clock: realClock,
      apply: customObjectStatusApplier(clients.customObjects, target, "arraycopy-test"),
    });
    const inFlight = new Set<string>();
    const overlaps: string[] = [];
    const errors: string[] = [];
    const controller = new Controller({
      name: "virtualcopy-test",
      clock: realClock,
      workers: 8,
      watches: [{ source: informer }],
      onError: (key, e) => errors.push(`${key}: ${String(e)}`),
      reconcile: async (key) => {
        if (inFlight.has(key)) overlaps.push(key);
        inFlight.add(key);
        try {
          const obj = informer.get(key);
          if (obj === undefined) return done;
          // A little time in flight, so changes arriving meanwhile would expose a double hand-out.
          await new Promise((resolve) => setTimeout(resolve, 5));
          const generation = generationOf(obj);
          await status.write(obj, {
            fields: { observedGeneration: generation },
            conditions: [
              { type: "Ready", status: "True", reason: "Created", message: "", observedGeneration: generation },
            ],
          });
          return done;
        } finally {
          inFlight.delete(key);
        }
      },
    });

    // Half exist before the controller starts (found by the initial list), half arrive through the watch.
    const manifest = (from: number, to: number) =>
      stringify({
        apiVersion: "v1",
        kind: "List",
        items: Array.from({ length: to - from }, (_, i) => ({
          apiVersion: target.apiVersion,
          kind: target.kind,
          metadata: { name: `c-${from + i}`, namespace: ns },
          spec: { source: { volumeName: "vol1" } },
        })),
      });
    kubectlOk(["create", "-f", "-"], { input: manifest(0, count / 2) });
    // The informer syncs before the controller subscribes: the controller must replay what it already holds.
    informer.start();
    await informer.waitForSync();
    const stop = new AbortController();
    const running = controller.run(stop.signal);
    kubectlOk(["create", "-f", "-"], { input: manifest(count / 2, count) });

    await eventually(
      () => {
        const ready = readyByName(ns);
        expect(ready).toHaveLength(count);
        expect(ready.every((l) => l.endsWith("=True/1"))).toBe(true);
      },
      90_000,
      500,
    );
    expect(controller.started()).toBe(true);

    // A spec change of every object bumps its generation: all converge to observedGeneration 2.
    kubectlOk([
      "patch",
      "virtualcopies",
      "-n",
      ns,
      "--type=merge",
      "-p",
      '{"spec":{"expirationHours":48}}',
      ...Array.from({ length: count }, (_, i) => `c-${i}`),
    ]);
    await eventually(
      () => {
        expect(readyByName(ns).every((l) => l.endsWith("=True/2"))).toBe(true);
      },
      90_000,
      500,
    );

    stop.abort();
    await running;
    await informer.stop();
    expect(overlaps).toEqual([]);
    expect(errors).toEqual([]);
    expect(inFlight.size).toBe(0);
  });
});
