// The populator's array clone on the real apiserver with the WSAPI test array (HTTPS, WSAPI semantics over an
// embedded engine, so bytes are real). No HPE CSI driver, external-provisioner or PV controller runs here: the test
// plays them where the flow reaches them — it does what the 3PAR CSP's import does to the array volume (renames it
// to the PV's volume, pvc-<first 27 characters of PVC′'s uid>: here a copy of its bytes under that name, the clone
// deleted), creates the PV that external-provisioner makes from the HPE CSI driver's CreateVolume answer (named
// pvc-<PVC′ uid>, volumeHandle the same, as docs/sources.md reads the driver and the CSP's documentation) and binds
// claims as the PV controller would. What it proves: the class's engine
// (wsapi: no data path, csiImport) gets the array clone, not a refusal; the array volume holds the copy's point in
// time and carries the claim as owner; PVC′ asks csi.hpe.com to import it (its annotation, the claim's mode, size
// and class); the imported PV is handed to the claim, and finishing leaves the volume to that PV. A claim deleted
// midway leaks nothing: before the import the array volume is deleted; after it, the PV is set to Delete so the
// driver deletes it. Bad input gets its Warning and makes nothing.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { openWsapiEngine, type WsapiEngine } from "../../operator/src/engine/wsapi/engine.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";
import {
  applyYaml,
  eventsFor,
  getObject,
  refusedClaim,
  startOperator,
  waitForCondition,
  wsapiClass,
  type KubeObj,
  type RunningOperator,
} from "../support/operator.ts";

const suffix = Math.random().toString(36).slice(2, 7);
const cls = `clone-it-${suffix}`;
const hpe = `clone-hpe-${suffix}`;
const hpeRetain = `clone-hpe-retain-${suffix}`;
const noOverride = `clone-hpe-fixed-${suffix}`;
const driver = "csi.hpe.com";
const MiB = 1024 * 1024;
const size = 4 * MiB;
let ns: string;
let popNs: string;
let backing: EmbeddedEngine;
let array: TestArray;
let op: RunningOperator;
let observer: WsapiEngine;

interface Obj extends KubeObj {
  spec?: Record<string, unknown> & {
    claimRef?: { uid?: string; name?: string };
    persistentVolumeReclaimPolicy?: string;
  };
}

const cloneName = (uid: string) => `cl-${uid.replace(/-/g, "").slice(0, 24)}`;

const claim = (
  name: string,
  storageClassName = hpe,
  storage = "4Mi",
  source = { kind: "VirtualCopy", name: "snap" },
) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace: ns },
  spec: {
    storageClassName,
    accessModes: ["ReadWriteOnce"],
    volumeMode: "Filesystem",
    resources: { requests: { storage } },
    dataSourceRef: { apiGroup: "arraycopy.io", ...source },
  },
});

const storageClass = (name: string, parameters: Record<string, string>, reclaimPolicy = "Delete") => ({
  apiVersion: "storage.k8s.io/v1",
  kind: "StorageClass",
  metadata: { name },
  provisioner: driver,
  reclaimPolicy,
  volumeBindingMode: "Immediate",
  parameters: { "csi.storage.k8s.io/fstype": "xfs", accessProtocol: "iscsi", ...parameters },
});

function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 13 + seed * 5 + (i >> 10)) & 0xff;
  return b;
}

/** PVC′ of a claim, once the populator made it. */
const primeOf = (uid: string) => getObject<Obj>("pvc", popNs, `prime-${uid}`);

/** The array volume the 3PAR CSP leaves for PVC′'s PV: the PV's name cut to the array's 31 characters. */
const importedName = (prime: Obj) => `pvc-${prime.metadata.uid}`.slice(0, 31);

/**
 * The HPE CSI driver's import of PVC′ (its CSP renames the volume importVolumeName names to the PV's volume), then
 * what external-provisioner makes of the driver's answer: the PV, bound ahead.
 */
async function provision(prime: Obj, storageClassName: string, reclaimPolicy: string, imports = true): Promise<string> {
  const from = prime.metadata.annotations?.["csi.hpe.com/importVolumeName"] ?? "";
  // An online copy's volume serves all of its bytes on the array at once; the test array's engine holds them once
  // the copy's task ends, so the import reads it then.
  const seen = await eventually(async () => {
    const c = await backing.observeCopy(from);
    if (c === undefined) throw new Error(`nothing to import: ${from} is not on the array`);
    expect(c.activeJob).toBeUndefined();
    return c;
  });
  const to = importedName(prime);
  await backing.createVolume(to, seen.sizeBytes);
  // A driver that ignored the annotation makes a blank volume and leaves the clone where it was.
  if (imports) {
    await backing.writeVolume(to, 0, await backing.readVolume(from, 0, seen.sizeBytes));
    await backing.deleteCopy({ name: from, owner: seen.owner });
  }
  const name = `pvc-${prime.metadata.uid}`;
  applyYaml({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name, annotations: { "pv.kubernetes.io/provisioned-by": driver } },
    spec: {
      capacity: { storage: "4Mi" },
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      storageClassName,
      persistentVolumeReclaimPolicy: reclaimPolicy,
      csi: { driver, volumeHandle: name, fsType: "xfs", volumeAttributes: { fsType: "xfs", accessProtocol: "iscsi" } },
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: popNs,
        name: prime.metadata.name,
        uid: prime.metadata.uid,
      },
    },
  });
  return name;
}

/** What the PV controller does once a PV names a claim: the claim's volumeName, then its phase. */
function bind(namespace: string, claimName: string, pv: string): void {
  const patch = (body: unknown, ...more: string[]) =>
    kubectlOk(["patch", "pvc", claimName, "-n", namespace, ...more, "--type=merge", "-p", JSON.stringify(body)]);
  patch({ spec: { volumeName: pv } });
  patch(
    { status: { phase: "Bound", capacity: { storage: "4Mi" }, accessModes: ["ReadWriteOnce"] } },
    "--subresource=status",
  );
}

const reasonsOf = (name: string) => eventsFor(ns, name).map((e) => e.reason);
const arrayHas = async (name: string) => (await backing.listVolumes()).some((v) => v.name === name);

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("clone");
  popNs = freshNamespace("clonesys");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "clone-array-")) });
  array = await startTestArray({ engine: backing });
  await backing.createVolume("db", size);
  await backing.writeVolume("db", 0, pattern(1, size));
  applyYaml(
    ...wsapiClass(cls, array, ns),
    storageClass(hpe, { allowOverrides: "description, importVolumeName" }),
    storageClass(hpeRetain, { allowOverrides: "importVolumeName" }, "Retain"),
    storageClass(noOverride, { allowOverrides: "description" }),
    {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name: "snap", namespace: ns },
      spec: { copyClassName: cls, source: { volumeName: "db" } },
    },
  );
  // No --populator-image: the array clone runs no pod, so it needs none.
  op = startOperator(["--populator-namespace", popNs]);
  observer = openWsapiEngine({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    cpg: "FC_r6",
    caBundle: array.ca,
  });
});

afterAll(async () => {
  await op.stop();
  await observer.close();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
  kubectl(["delete", "storageclass", hpe, hpeRetain, noOverride, "--wait=false"]);
});

describe("populator: the array clone (HPE CSI import)", () => {
  let snapBytes: Buffer;

  it("clones the copy on the array, has the CSI driver import it, and hands the imported PV over", async () => {
    const snap = await waitForCondition<Obj>("virtualcopy", ns, "snap", "Ready", { timeoutMs: 30_000 });
    snapBytes = await backing.readVolume(String(snap.status?.["arrayName"]), 0, size);
    // The base moves on: the PVC must get the copy's point in time.
    await backing.writeVolume("db", 0, pattern(9, MiB));

    applyYaml(claim("restored"));
    const uid = await eventually(() => {
      const c = getObject<Obj>("pvc", ns, "restored");
      expect(c?.metadata.finalizers).toContain("arraycopy.io/populate-target");
      return c?.metadata.uid ?? "";
    });
    const volume = cloneName(uid);
    // The array volume: ours (the claim is its owner), the copy's bytes.
    const made = await eventually(async () => {
      const seen = await observer.observeCopy(volume);
      expect(seen).toBeDefined();
      expect(seen?.activeJob).toBeUndefined();
      expect(seen?.contentComplete).toBe(true);
      return seen;
    });
    expect(made?.owner).toEqual({ namespace: ns, name: "restored", uid });
    expect(made).toMatchObject({ kind: "Physical", online: true, source: snap.status?.["arrayName"] });
    expect((await backing.readVolume(volume, 0, size)).equals(snapBytes)).toBe(true);

    // PVC′: the claim's class, size, access modes and mode, with the import annotation; no pod, no Secret.
    const prime = await eventually(() => {
      const p = primeOf(uid);
      expect(p).toBeDefined();
      return p as Obj;
    });
    expect(prime.metadata.annotations).toMatchObject({
      "csi.hpe.com/importVolumeName": volume,
      "arraycopy.io/array-volume": volume,
    });
    expect(prime.metadata.labels).toMatchObject({ "arraycopy.io/claim-uid": uid, "arraycopy.io/populator": "true" });
    expect(prime.spec).toMatchObject({
      storageClassName: hpe,
      volumeMode: "Filesystem",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "4Mi" } },
    });
    expect(prime.spec).not.toHaveProperty("dataSourceRef");
    expect(getObject("pod", popNs, `populate-${uid}`)).toBeUndefined();
    expect(getObject("secret", popNs, `populate-${uid}`)).toBeUndefined();
    await eventually(() => {
      expect(reasonsOf("restored")).toContain("Populating");
      const c = getObject<Obj>("virtualcopy", ns, "snap");
      expect(c?.metadata.finalizers).toContain("arraycopy.io/populate-source");
      expect(c?.status?.["volumeClaims"]).toEqual([{ name: "restored", phase: "Populating" }]);
    });

    // The driver imports (external-provisioner makes the PV), the PV controller binds PVC′: the PV goes to the claim,
    // once its array volume (by the CSP's rule) is confirmed on the array.
    const pv = await provision(prime, hpe, "Delete");
    const imported = importedName(prime);
    bind(popNs, prime.metadata.name, pv);
    await eventually(() => {
      const p = getObject<Obj>("pv", undefined, pv);
      expect(p?.spec?.claimRef).toMatchObject({ name: "restored", uid });
      expect(p?.metadata.annotations?.["arraycopy.io/populated-from"]).toContain("VirtualCopy snap");
      expect(p?.metadata.annotations?.["arraycopy.io/array-volume"]).toBe(imported);
    });
    bind(ns, "restored", pv);
    await eventually(() => {
      const c = getObject<Obj>("pvc", ns, "restored");
      expect(c?.metadata.finalizers ?? []).not.toContain("arraycopy.io/populate-target");
      expect(c?.metadata.annotations?.["arraycopy.io/populated-from"]).toContain("VirtualCopy snap");
      expect(reasonsOf("restored")).toContain("Populated");
      const left = primeOf(uid);
      expect(left === undefined || left.metadata.deletionTimestamp !== undefined).toBe(true);
      expect(getObject<Obj>("virtualcopy", ns, "snap")?.status?.["volumeClaims"]).toEqual([
        { name: "restored", phase: "Populated", volumeName: pv },
      ]);
    }, 60_000);
    // Finishing never deletes the volume: it is the PV's now.
    expect(await arrayHas(imported)).toBe(true);
    expect(array.deleted).not.toContain(imported);
    expect(array.deleted).not.toContain(volume);

    // The restored claim is a source like any other claim of the class's driver: its PV resolves, by the same rule,
    // to the imported volume, which holds the copy's point in time.
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name: "of-restored", namespace: ns },
      spec: { copyClassName: cls, source: { persistentVolumeClaimName: "restored" } },
    });
    const again = await waitForCondition<Obj>("virtualcopy", ns, "of-restored", "Ready", { status: "True" });
    expect(again.status?.["sourceVolume"]).toBe(imported);
    const copied = String(again.status?.["arrayName"]);
    expect((await backing.readVolume(copied, 0, size)).equals(snapBytes)).toBe(true);
    await kubectlAsyncOk(["delete", "virtualcopy", "of-restored", "-n", ns, "--timeout=60s"]);
  });

  it("does not hand over a PV when the driver made a volume rather than import the clone", async () => {
    applyYaml(claim("not-imported"));
    const uid = await eventually(() => {
      const p = getObject<Obj>("pvc", ns, "not-imported");
      expect(primeOf(p?.metadata.uid ?? "")).toBeDefined();
      return p?.metadata.uid ?? "";
    });
    const prime = primeOf(uid) as Obj;
    const pv = await provision(prime, hpe, "Delete", false);
    bind(popNs, prime.metadata.name, pv);
    await eventually(() => {
      const warned = eventsFor(ns, "not-imported").filter((e) => e.reason === "PopulateFailed");
      expect(warned.map((e) => e.note).join("\n")).toContain(
        `the clone is still on the array under its own name: ${driver} did not import it`,
      );
    }, 30_000);
    // The PV stays PVC′'s, the claim unbound and held, the clone ours and whole.
    expect(getObject<Obj>("pv", undefined, pv)?.spec?.claimRef?.uid).toBe(prime.metadata.uid);
    expect(getObject<Obj>("pvc", ns, "not-imported")?.metadata.finalizers).toContain("arraycopy.io/populate-target");
    expect(await arrayHas(cloneName(uid))).toBe(true);
    expect(array.deleted).not.toContain(cloneName(uid));
  });

  it("carries on after the operator restarts between the clone and the import", async () => {
    applyYaml(claim("across-restart"));
    const uid = await eventually(() => {
      const p = getObject<Obj>("pvc", ns, "across-restart");
      expect(primeOf(p?.metadata.uid ?? "")).toBeDefined();
      return p?.metadata.uid ?? "";
    });
    // Everything the next process needs is on the array (the tagged clone) and in the cluster (PVC′).
    await op.stop();
    op = startOperator(["--populator-namespace", popNs]);
    const prime = primeOf(uid) as Obj;
    const pv = await provision(prime, hpe, "Delete");
    bind(popNs, prime.metadata.name, pv);
    await eventually(() => {
      expect(getObject<Obj>("pv", undefined, pv)?.spec?.claimRef).toMatchObject({ name: "across-restart", uid });
    }, 60_000);
    bind(ns, "across-restart", pv);
    await eventually(() => {
      expect(reasonsOf("across-restart")).toContain("Populated");
    }, 60_000);
    // One clone only, taken by the import: the new process found the first one rather than making another.
    expect(await arrayHas(cloneName(uid))).toBe(false);
    expect(await arrayHas(importedName(prime))).toBe(true);
    expect(array.deleted).not.toContain(cloneName(uid));
  });

  it("clones a PhysicalCopy from its target volume", async () => {
    await backing.createVolume("db-full", size);
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "PhysicalCopy",
      metadata: { name: "full", namespace: ns },
      spec: { copyClassName: cls, source: { volumeName: "db" }, target: { volumeName: "db-full" } },
    });
    await waitForCondition("physicalcopy", ns, "full", "Ready", { timeoutMs: 30_000 });
    const full = await backing.readVolume("db-full", 0, size);
    applyYaml(claim("from-full", hpe, "4Mi", { kind: "PhysicalCopy", name: "full" }));
    const uid = await eventually(() => {
      const p = getObject<Obj>("pvc", ns, "from-full");
      expect(primeOf(p?.metadata.uid ?? "")?.metadata.annotations).toMatchObject({
        "csi.hpe.com/importVolumeName": cloneName(p?.metadata.uid ?? ""),
      });
      return p?.metadata.uid ?? "";
    });
    // An online copy: its volume exists at once and holds all of the bytes once its task ends.
    await eventually(async () => {
      expect(await observer.observeCopy(cloneName(uid))).toMatchObject({
        source: "db-full",
        kind: "Physical",
        activeJob: undefined,
        contentComplete: true,
      });
    });
    expect((await backing.readVolume(cloneName(uid), 0, size)).equals(full)).toBe(true);
    kubectlOk(["delete", "pvc", "from-full", "-n", ns, "--wait=false"]);
    await eventually(async () => {
      expect(await arrayHas(cloneName(uid))).toBe(false);
    }, 60_000);
  });

  it("deletes the array volume of a claim deleted before the driver imported it", async () => {
    applyYaml(claim("early-goodbye"));
    const uid = await eventually(() => {
      const p = getObject<Obj>("pvc", ns, "early-goodbye");
      expect(p?.metadata.uid).toBeDefined();
      expect(primeOf(p?.metadata.uid ?? "")).toBeDefined();
      return p?.metadata.uid ?? "";
    });
    expect(await arrayHas(cloneName(uid))).toBe(true);
    kubectlOk(["delete", "pvc", "early-goodbye", "-n", ns, "--wait=false"]);
    await eventually(async () => {
      expect(array.deleted).toContain(cloneName(uid));
      expect(await arrayHas(cloneName(uid))).toBe(false);
      const left = primeOf(uid);
      expect(left === undefined || left.metadata.deletionTimestamp !== undefined).toBe(true);
      expect(getObject<Obj>("pvc", ns, "early-goodbye")?.metadata.finalizers ?? []).not.toContain(
        "arraycopy.io/populate-target",
      );
    }, 60_000);
  });

  it("leaves an imported volume to its PV, set to Delete, when the claim is deleted after the import", async () => {
    applyYaml(claim("late-goodbye", hpeRetain));
    const uid = await eventually(() => {
      const p = getObject<Obj>("pvc", ns, "late-goodbye");
      expect(primeOf(p?.metadata.uid ?? "")).toBeDefined();
      return p?.metadata.uid ?? "";
    });
    // The provisioner made the PV (a Retain class); the PV controller has not bound PVC′ yet.
    const prime = primeOf(uid) as Obj;
    const pv = await provision(prime, hpeRetain, "Retain");
    kubectlOk(["delete", "pvc", "late-goodbye", "-n", ns, "--wait=false"]);
    await eventually(() => {
      expect(getObject<Obj>("pv", undefined, pv)?.spec?.persistentVolumeReclaimPolicy).toBe("Delete");
      const left = primeOf(uid);
      expect(left === undefined || left.metadata.deletionTimestamp !== undefined).toBe(true);
      expect(getObject<Obj>("pvc", ns, "late-goodbye")?.metadata.finalizers ?? []).not.toContain(
        "arraycopy.io/populate-target",
      );
    }, 60_000);
    // The CSI driver deletes the volume with its PV; we never delete a volume a PV holds.
    expect(array.deleted).not.toContain(importedName(prime));
    expect(await arrayHas(importedName(prime))).toBe(true);
    kubectl(["delete", "pv", pv, "--wait=false"]);
  });

  it.each([
    {
      why: "a StorageClass that does not let a PVC override importVolumeName",
      name: "fixed-class",
      pvc: () => claim("fixed-class", noOverride),
      reason: "NoPopulateStrategy",
      message: "add importVolumeName to the StorageClass's allowOverrides parameter",
    },
    {
      why: "a claim larger than the copy",
      name: "too-large",
      pvc: () => claim("too-large", hpe, "8Mi"),
      reason: "ClaimTooLarge",
      message: "request exactly that",
    },
  ])("refuses $why with a Warning and makes nothing", async ({ name, pvc, reason, message }) => {
    applyYaml(pvc());
    const uid = await refusedClaim(ns, name, reason, message);
    expect(primeOf(uid)).toBeUndefined();
    expect(await arrayHas(cloneName(uid))).toBe(false);
    kubectlOk(["delete", "pvc", name, "-n", ns, "--wait=false"]);
  });
});
