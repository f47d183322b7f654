// The finalizer helper's guarded JSON patches on the real apiserver: adding to an object with no finalizers yet
// (guarded by resourceVersion) and to one with a list (guarded by the list); a concurrent writer between our read
// and our patch makes the guard fail with what `isPatchTestFailed` recognises, and the retry keeps their
// finalizer; removal on a deleting object keeps the others and lets the object go once they are gone too. Each
// case runs over both transports: client-node's CustomObjectsApi and the RestWriter the operator uses.
import { beforeAll, describe, expect, it } from "vitest";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import { apiStatus, isPatchTestFailed } from "../../operator/src/kube/errors.ts";
import {
  addFinalizerPatch,
  customObjectPatcher,
  hasFinalizer,
  isDeleting,
  removeFinalizerPatch,
  restObjectPatcher,
  type CustomObjectRef,
  type FinalizerMeta,
  type PatchObject,
} from "../../operator/src/kube/finalizers.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { eventually, freshNamespace, installCrds, kubeConfig, kubectl, kubectlOk } from "../support/cluster.ts";

const group = "arraycopy.io";
const version = "v1alpha1";
const plural = "virtualcopies";
const ours = "arraycopy.io/virtualcopy";

let clients: Clients;
beforeAll(() => {
  installCrds();
  clients = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

const transports = {
  "client-node": (ref: CustomObjectRef): PatchObject => customObjectPatcher(clients.customObjects, ref),
  rest: (ref: CustomObjectRef): PatchObject => {
    if (clients.rest === undefined) throw new Error("no RestWriter for the test cluster");
    return restObjectPatcher(clients.rest, ref);
  },
};
/** The transport of the describe block running now. */
let patcherFor = transports["client-node"];

interface Obj {
  readonly metadata: FinalizerMeta & { readonly name: string };
}

async function read(ns: string, name: string): Promise<Obj> {
  const raw: unknown = await clients.customObjects.getNamespacedCustomObject({
    group,
    version,
    namespace: ns,
    plural,
    name,
  });
  const meta: unknown = typeof raw === "object" && raw !== null ? Reflect.get(raw, "metadata") : undefined;
  if (typeof meta !== "object" || meta === null) throw new Error("object without metadata");
  const finalizers: unknown = Reflect.get(meta, "finalizers");
  const resourceVersion: unknown = Reflect.get(meta, "resourceVersion");
  const deletionTimestamp: unknown = Reflect.get(meta, "deletionTimestamp");
  return {
    metadata: {
      name,
      finalizers: Array.isArray(finalizers) ? finalizers.map(String) : undefined,
      resourceVersion: typeof resourceVersion === "string" ? resourceVersion : undefined,
      deletionTimestamp: typeof deletionTimestamp === "string" ? deletionTimestamp : undefined,
    },
  };
}

function create(ns: string, name: string, finalizers?: string[]): void {
  const metadata = finalizers === undefined ? { name } : { name, finalizers };
  kubectlOk(["create", "-n", ns, "-f", "-"], {
    input: JSON.stringify({
      apiVersion: `${group}/${version}`,
      kind: "VirtualCopy",
      metadata,
      spec: { source: { volumeName: "vol1" } },
    }),
  });
}

/**
 * What a controller's plan does with our finalizer, from a fresh read: add it to a live object, remove it from a
 * deleting one (its cleanup done), leave another controller's deletion alone; re-read and retry when the guard fails.
 */
async function addOurs(ns: string, name: string, firstRead?: Obj): Promise<{ outcome: string; guardFailures: number }> {
  let guardFailures = 0;
  let obj = firstRead ?? (await read(ns, name));
  const patch = patcherFor({ group, version, plural, namespace: ns, name });
  for (let attempt = 0; attempt < 5; attempt++) {
    try {
      const mine = hasFinalizer(obj.metadata, ours);
      if (isDeleting(obj.metadata)) {
        if (!mine) return { outcome: "notOurs", guardFailures };
        const ops = removeFinalizerPatch(obj.metadata, ours);
        if (ops !== undefined) await patch(ops);
        return { outcome: "finalizerRemoved", guardFailures };
      }
      if (mine) return { outcome: "applied", guardFailures };
      const ops = addFinalizerPatch(obj.metadata, ours);
      if (ops !== undefined) await patch(ops);
      return { outcome: "finalizerAdded", guardFailures };
    } catch (e: unknown) {
      if (!isPatchTestFailed(e)) throw e;
      guardFailures++;
      obj = await read(ns, name);
    }
  }
  throw new Error("guard kept failing");
}

describe.each(Object.keys(transports) as (keyof typeof transports)[])(
  "finalizers on the real apiserver over %s",
  (t) => {
    beforeAll(() => {
      patcherFor = transports[t];
    });

    it("adds ours to an object with no finalizers (guarded by resourceVersion)", async () => {
      const ns = freshNamespace("fin");
      create(ns, "a");
      expect((await read(ns, "a")).metadata.finalizers).toBeUndefined();
      expect(await addOurs(ns, "a")).toEqual({ outcome: "finalizerAdded", guardFailures: 0 });
      expect((await read(ns, "a")).metadata.finalizers).toEqual([ours]);
      expect((await addOurs(ns, "a")).outcome).toBe("applied");
    });

    it("a stale guard fails as isPatchTestFailed recognises; a retry keeps the other writer's finalizer", async () => {
      const ns = freshNamespace("fin");
      create(ns, "a", ["other.io/first"]);
      const stale = await read(ns, "a");
      // Another controller adds its finalizer between our read and our patch.
      kubectlOk([
        "patch",
        "-n",
        ns,
        "virtualcopy",
        "a",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/finalizers/-","value":"other.io/second"}]',
      ]);

      const ops = addFinalizerPatch(stale.metadata, ours);
      if (ops === undefined) throw new Error("expected a patch");
      const err = await patcherFor({ group, version, plural, namespace: ns, name: "a" })(ops).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(apiStatus(err)).toMatchObject({ code: 422, reason: "Invalid" });
      expect(isPatchTestFailed(err)).toBe(true);

      expect(await addOurs(ns, "a", stale)).toEqual({ outcome: "finalizerAdded", guardFailures: 1 });
      expect((await read(ns, "a")).metadata.finalizers).toEqual(["other.io/first", "other.io/second", ours]);
    });

    it("the resourceVersion guard of an object without finalizers also catches a concurrent change", async () => {
      const ns = freshNamespace("fin");
      create(ns, "a");
      const stale = await read(ns, "a");
      kubectlOk([
        "patch",
        "-n",
        ns,
        "virtualcopy",
        "a",
        "--type=json",
        "-p",
        '[{"op":"add","path":"/metadata/finalizers","value":["other.io/x"]}]',
      ]);
      expect(await addOurs(ns, "a", stale)).toEqual({ outcome: "finalizerAdded", guardFailures: 1 });
      expect((await read(ns, "a")).metadata.finalizers).toEqual(["other.io/x", ours]);
    });

    it("removes only ours from a deleting object; it goes once the others are gone", async () => {
      const ns = freshNamespace("fin");
      create(ns, "a", ["other.io/first", ours]);
      kubectlOk(["delete", "-n", ns, "virtualcopy", "a", "--wait=false"]);
      const deleting = await read(ns, "a");
      expect(deleting.metadata.deletionTimestamp).toBeDefined();
      expect((await addOurs(ns, "a")).outcome).toBe("finalizerRemoved");
      expect((await read(ns, "a")).metadata.finalizers).toEqual(["other.io/first"]);
      expect((await addOurs(ns, "a")).outcome).toBe("notOurs");

      kubectlOk([
        "patch",
        "-n",
        ns,
        "virtualcopy",
        "a",
        "--type=json",
        "-p",
        '[{"op":"remove","path":"/metadata/finalizers"}]',
      ]);
      await eventually(() => {
        expect(kubectl(["get", "-n", ns, "virtualcopy", "a"]).code).not.toBe(0);
      });
    });
  },
);
