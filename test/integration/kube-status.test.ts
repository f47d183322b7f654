// The status writer on the real apiserver: server-side apply to /status with one field manager per controller.
// Two managers each own a condition type and a field; neither write removes the other's; a field a manager stops
// applying is removed; the transition time survives a message change; an unchanged write sends no request
// (requests counted on the writer's own clients as they go on the wire, not by the writer). Each case runs over
// both transports: client-node's CustomObjectsApi, and the RestWriter the operator uses.
import { beforeAll, describe, expect, it } from "vitest";
import type { Middleware } from "@kubernetes/client-node";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import { decodeUntyped, type UntypedObject } from "../../operator/src/kube/informer.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import {
  StatusWriter,
  customObjectStatusApplier,
  restStatusApplier,
  type ApplyStatus,
  type StatusTarget,
} from "../../operator/src/kube/status.ts";
import { createVirtualCopy, freshNamespace, installCrds, kubeConfig } from "../support/cluster.ts";

const target: StatusTarget = {
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  group: "arraycopy.io",
  version: "v1alpha1",
  plural: "virtualcopies",
};

let reader: Clients;
beforeAll(() => {
  installCrds();
  reader = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

type Transport = "client-node" | "rest";
/** The transport of the describe block running now. */
let transport: Transport = "client-node";

/** A writer with its own clients, counting every request they send. */
function writer(fieldManager: string): { w: StatusWriter; requests: () => number } {
  let n = 0;
  const counter: Middleware = {
    pre: (ctx) => {
      n++;
      return Promise.resolve(ctx);
    },
    post: (ctx) => Promise.resolve(ctx),
  };
  const clients = makeClients(kubeConfig(), {
    throttle: new RequestThrottle(realClock),
    middleware: [counter],
    onRestRequest: () => n++,
  });
  let apply: ApplyStatus;
  if (transport === "client-node") {
    apply = customObjectStatusApplier(clients.customObjects, target, fieldManager);
  } else {
    if (clients.rest === undefined) throw new Error("no RestWriter for the test cluster");
    apply = restStatusApplier(clients.rest, target, fieldManager);
  }
  const w = new StatusWriter({ target, fieldManager, clock: realClock, apply });
  return { w, requests: () => n };
}

async function read(ns: string, name: string): Promise<UntypedObject> {
  const obj = decodeUntyped(
    await reader.customObjects.getNamespacedCustomObject({
      group: target.group,
      version: target.version,
      namespace: ns,
      plural: target.plural,
      name,
    }),
  );
  if (obj === undefined) throw new Error("not an object");
  return obj;
}

function statusOf(obj: UntypedObject): Record<string, unknown> {
  const s = obj["status"];
  return typeof s === "object" && s !== null ? { ...s } : {};
}

function conditionTypes(obj: UntypedObject): string[] {
  const list = statusOf(obj)["conditions"];
  return Array.isArray(list)
    ? list.map((c: unknown) => String(typeof c === "object" && c !== null ? Reflect.get(c, "type") : "")).sort()
    : [];
}

function condition(obj: UntypedObject, type: string): Record<string, unknown> | undefined {
  const list = statusOf(obj)["conditions"];
  const found: unknown = Array.isArray(list)
    ? list.find((c: unknown) => typeof c === "object" && c !== null && Reflect.get(c, "type") === type)
    : undefined;
  return typeof found === "object" && found !== null ? { ...found } : undefined;
}

describe.each(["client-node", "rest"] as const)("StatusWriter on the real apiserver over %s", (t) => {
  beforeAll(() => {
    transport = t;
  });

  it("two managers keep each other's conditions; unchanged writes send nothing", async () => {
    const ns = freshNamespace("status");
    createVirtualCopy(ns, "a");
    const copy = writer("arraycopy-virtualcopy");
    const health = writer("arraycopy-health");

    const r1 = await copy.w.write(await read(ns, "a"), {
      fields: { observedGeneration: 1, syncState: "ResyncInProgress" },
      conditions: [
        { type: "Ready", status: "False", reason: "Creating", message: "creating on the array", observedGeneration: 1 },
      ],
    });
    expect(r1.written).toBe(true);
    await health.w.write(await read(ns, "a"), {
      fields: {},
      conditions: [{ type: "Reconciling", status: "True", reason: "Progressing", message: "", observedGeneration: 1 }],
    });
    let obj = await read(ns, "a");
    expect(conditionTypes(obj)).toEqual(["Ready", "Reconciling"]);
    const firstTransition = condition(obj, "Ready")?.["lastTransitionTime"];

    // Same status, new message: written, transition time kept; the other manager's condition stays.
    await copy.w.write(obj, {
      fields: { observedGeneration: 1, syncState: "ResyncInProgress" },
      conditions: [
        { type: "Ready", status: "False", reason: "Creating", message: "still creating", observedGeneration: 1 },
      ],
    });
    obj = await read(ns, "a");
    expect(condition(obj, "Ready")).toMatchObject({
      status: "False",
      message: "still creating",
      lastTransitionTime: firstTransition,
    });
    expect(conditionTypes(obj)).toEqual(["Ready", "Reconciling"]);

    // Unchanged, computed from the object as read: no request at all.
    const before = copy.requests();
    const again = await copy.w.write(obj, {
      fields: { observedGeneration: 1, syncState: "ResyncInProgress" },
      conditions: [
        { type: "Ready", status: "False", reason: "Creating", message: "still creating", observedGeneration: 1 },
      ],
    });
    expect(again.written).toBe(false);
    expect(copy.requests()).toBe(before);

    // The other manager's Reconciling turns False: written only while True, so its apply drops it and only its own
    // condition goes.
    await health.w.write(obj, {
      fields: {},
      conditions: [{ type: "Reconciling", status: "False", reason: "Idle", message: "", observedGeneration: 1 }],
    });
    obj = await read(ns, "a");
    expect(conditionTypes(obj)).toEqual(["Ready"]);
    expect(statusOf(obj)["syncState"]).toBe("ResyncInProgress");

    // A field the manager stops applying is removed, the rest stays.
    await copy.w.write(obj, {
      fields: { observedGeneration: 1 },
      conditions: [{ type: "Ready", status: "True", reason: "Created", message: "", observedGeneration: 1 }],
    });
    obj = await read(ns, "a");
    expect(statusOf(obj)["syncState"]).toBeUndefined();
    expect(condition(obj, "Ready")?.["status"]).toBe("True");
  });
});
