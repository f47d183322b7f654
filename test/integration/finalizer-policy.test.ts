// The finalizer policy (finalizer-policy.ts, the MutatingAdmissionPolicy deploy/admission/ ships) on the real
// apiserver: the API server puts the copy finalizer on each VirtualCopy, VirtualCopyGroup and PhysicalCopy as it is
// created, and a VirtualCopy on the embedded engine then goes Ready with no write of the operator's to its metadata
// — only its status — and is still deleted from the array with its resource. Copies in namespaces the binding does
// not select are untouched by it, and the operator adds the finalizer itself as before. The policy is bound here to
// this file's namespace alone (by its name label), so the other test files sharing the cluster never see it.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { finalizerPolicy } from "../../operator/src/controllers/shared/finalizer-policy.ts";
import { copyFinalizer } from "../../operator/src/controllers/shared/objects.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";
import { applyYaml, embeddedClass, startOperator, type RunningOperator } from "../support/operator.ts";

const suffix = Math.random().toString(36).slice(2, 7);
const cls = `fp-it-${suffix}`;
const policyName = `arraycopy-finalizer-it-${suffix}`;
let op: RunningOperator;
let ns: string;
let other: string;

interface ManagedField {
  manager: string;
  operation: string;
  subresource?: string;
  fieldsV1?: { "f:metadata"?: Record<string, unknown> };
}
interface Obj {
  metadata: { name: string; uid: string; finalizers?: string[]; managedFields?: ManagedField[] };
  status?: { arrayName?: string; conditions?: { type: string; status: string }[] };
}

/** The policy and binding, named for this file and bound to the namespace with the given name. */
const scopedPolicy = (namespace: string) =>
  finalizerPolicy({
    name: policyName,
    namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": namespace } },
  });

const vc = (namespace: string, name: string) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  metadata: { name, namespace },
  spec: { copyClassName: cls, source: { volumeName: "data" } },
});

/** Creates `obj` with kubectl (as a user would) and returns the object the API server stored. */
function create(obj: unknown, dryRun = false): Obj {
  const args = ["create", "-o", "json", "-f", "-", ...(dryRun ? ["--dry-run=server"] : [])];
  return JSON.parse(kubectlOk(args, { input: JSON.stringify(obj) })) as Obj;
}

/** The object with its managedFields (kubectl hides them unless asked): who wrote which fields. */
const withManagers = (namespace: string, name: string) =>
  JSON.parse(kubectlOk(["get", "virtualcopy", name, "-n", namespace, "-o", "json", "--show-managed-fields"])) as Obj;

const ready = (o: Obj | undefined) => o?.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("fp");
  other = freshNamespace("fp-off");
  applyYaml(embeddedClass(cls));
  applyYaml(...scopedPolicy(ns));
  op = startOperator();
  const engine = await op.engine(cls);
  await engine.volumes.createVolume("data", 4 << 20);
  // A policy takes effect a moment after it is stored (the API server's admission informers): wait for it.
  await eventually(() => {
    expect(create(vc(ns, "probe"), true).metadata.finalizers).toEqual([copyFinalizer]);
  });
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "mutatingadmissionpolicybinding,mutatingadmissionpolicy", policyName, "--wait=false"]);
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("the finalizer policy", () => {
  it("puts the finalizer on at create; the copy goes Ready on status writes alone and leaves the array", async () => {
    const created = create(vc(ns, "snap"));
    expect(created.metadata.finalizers).toEqual([copyFinalizer]);
    const obj = await eventually(() => {
      const o = withManagers(ns, "snap");
      expect(ready(o)).toBe(true);
      return o;
    });
    // Every field manager but the creator's wrote only to the status subresource: no metadata patch was needed.
    const writers = (obj.metadata.managedFields ?? []).filter((f) => f.manager !== "kubectl-create");
    expect(writers.length).toBeGreaterThan(0);
    for (const f of writers) expect(f, `${f.manager} ${f.operation}`).toMatchObject({ subresource: "status" });
    expect(obj.metadata.finalizers).toEqual([copyFinalizer]);
    const engine = await op.engine(cls);
    const arrayName = obj.status?.arrayName ?? "";
    expect(await engine.observeCopy(arrayName)).toBeDefined();

    await kubectlAsyncOk(["delete", "virtualcopy", "snap", "-n", ns, "--timeout=60s"]);
    expect(await engine.observeCopy(arrayName)).toBeUndefined();
  });

  it("keeps a finalizer the creator gave, adds ours beside it, and covers groups and physical copies", () => {
    const withOwn = vc(ns, "own");
    (withOwn.metadata as Record<string, unknown>).finalizers = ["example.com/keep"];
    expect(create(withOwn, true).metadata.finalizers?.sort()).toEqual([copyFinalizer, "example.com/keep"].sort());
    const group = {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopyGroup",
      metadata: { name: "g", namespace: ns },
      spec: { copyClassName: cls, members: { volumes: ["data"] } },
    };
    expect(create(group, true).metadata.finalizers).toEqual([copyFinalizer]);
    const physical = {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "PhysicalCopy",
      metadata: { name: "p", namespace: ns },
      spec: { copyClassName: cls, source: { volumeName: "data" }, target: { volumeName: "data-copy" } },
    };
    expect(create(physical, true).metadata.finalizers).toEqual([copyFinalizer]);
  });

  it("leaves namespaces its binding does not select alone: there the operator adds the finalizer itself", async () => {
    const created = create(vc(other, "snap"));
    expect(created.metadata.finalizers).toBeUndefined();
    const obj = await eventually(() => {
      const o = withManagers(other, "snap");
      expect(ready(o)).toBe(true);
      return o;
    });
    expect(obj.metadata.finalizers).toEqual([copyFinalizer]);
    const metadataWriters = (obj.metadata.managedFields ?? []).filter(
      (f) => f.manager !== "kubectl-create" && f.subresource === undefined,
    );
    expect(metadataWriters.length).toBe(1);
    await kubectlAsyncOk(["delete", "virtualcopy", "snap", "-n", other, "--timeout=60s"]);
  });
});
