import { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { fromJson } from "../../kube/models.ts";
import { describe, expect, it } from "vitest";
import { decide, quantityBytes, retryAtAnnotation, retryDelayMs, type Gathered } from "./decide.ts";

const uid = "6b1e2c3d-0000-4000-8000-000000000001";
const address = "http://10.0.0.5:8081";

function gathered(mods: Partial<Gathered> = {}, claimMods: Record<string, unknown> = {}, boundTo?: string): Gathered {
  const claim = fromJson(V1PersistentVolumeClaim, {
    metadata: { name: "restored", namespace: "app", uid, ...claimMods },
    spec: {
      storageClassName: "csi",
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Block",
      resources: { requests: { storage: "1Gi" } },
      dataSourceRef: { apiGroup: "arraycopy.io", kind: "VirtualCopy", name: "snap" },
      ...(boundTo === undefined ? {} : { volumeName: boundTo }),
    },
    ...(boundTo === undefined ? {} : { status: { phase: "Bound" } }),
  });
  return {
    claim,
    ref: { namespace: "app", name: "restored", uid },
    now: Date.parse("2026-12-02T12:00:00Z"),
    settings: { image: "img", namespace: "arraycopy-system", address },
    source: { kind: "VirtualCopy", name: "snap" },
    copy: {
      kind: "VirtualCopy",
      name: "snap",
      uid: "c",
      ready: true,
      why: "",
      deleting: false,
      sizeBytes: 1 << 30,
      volume: "vc-1",
    },
    engine: { ok: true, className: "embedded", readsVolumes: true },
    storageClass: {
      name: "csi",
      provisioner: "csi.example",
      waitForConsumer: false,
      reclaimPolicy: "Delete",
      fsType: "ext4",
      mountOptions: undefined,
      csi: true,
    },
    secret: false,
    ...mods,
  };
}

function copyOf(): NonNullable<Gathered["copy"]> {
  const c = gathered().copy;
  if (c === undefined) throw new Error("no copy");
  return c;
}

const started = { finalizers: ["arraycopy.io/populate-target"] };
const pod = (phase: string, source = address, terminated?: Record<string, unknown>) =>
  fromJson(V1Pod, {
    metadata: { annotations: { "arraycopy.io/populate-source": source } },
    status: {
      phase,
      containerStatuses:
        terminated === undefined ? [] : [{ name: "populate", ready: false, restartCount: 0, state: { terminated } }],
    },
  });
const prime = (annotations: Record<string, string> = {}) =>
  fromJson(V1PersistentVolumeClaim, { metadata: { uid: "p", annotations }, spec: { volumeName: "pv-1" } });
const primePv = fromJson(V1PersistentVolume, { metadata: { name: "pv-1" }, spec: { claimRef: { uid: "p" } } });

describe("populator decide", () => {
  it("ignores a PVC that names no copy of ours", () => {
    expect(decide(gathered({ source: undefined })).kind).toBe("ignore");
  });

  it("starts a valid claim, on the node the scheduler chose for WaitForFirstConsumer", () => {
    expect(decide(gathered())).toMatchObject({ kind: "start", node: undefined });
    const sc = { ...(gathered().storageClass as object), waitForConsumer: true } as Gathered["storageClass"];
    expect(decide(gathered({ storageClass: sc })).kind).toBe("wait");
    const annotated = gathered(
      { storageClass: sc },
      { annotations: { "volume.kubernetes.io/selected-node": "node-1" } },
    );
    expect(decide(annotated)).toMatchObject({ kind: "start", node: "node-1" });
  });

  it.each([
    ["the copy is missing", { copy: undefined }, "CopyNotFound"],
    [
      "a copy in another namespace",
      { source: { kind: "VirtualCopy", name: "snap", namespace: "x" } },
      "CrossNamespaceCopy",
    ],
    ["a copy not Ready", { copy: { ...copyOf(), ready: false } }, "CopyNotReady"],
    ["no populator image", { settings: { image: undefined, namespace: "n", address } }, "PopulatorDisabled"],
    ["an engine that cannot read", { engine: { ok: true, className: "w", readsVolumes: false } }, "NoPopulateStrategy"],
    [
      "a missing StorageClass",
      { storageClass: { missing: "StorageClass csi does not exist" } },
      "StorageClassNotFound",
    ],
  ] as const)("refuses %s", (_why, mods, reason) => {
    expect(decide(gathered(mods as Partial<Gathered>))).toMatchObject({ kind: "refuse", reason });
  });

  it("keeps going for a claim already started when its copy is being deleted (the copy waits for it)", () => {
    const g = gathered({ copy: { ...copyOf(), deleting: true }, prime: prime() }, started);
    expect(decide(g).kind).toBe("start");
  });

  it("replaces a pod of an earlier leader at once, and a failed one with its reason and a count", () => {
    expect(decide(gathered({ pod: pod("Running", "http://10.0.0.9:8081"), prime: prime() }, started))).toEqual({
      kind: "replacePod",
      failure: undefined,
      attempts: 0,
    });
    const failed = pod("Failed", address, { exitCode: 2, message: "target is smaller than the copy" });
    expect(decide(gathered({ pod: failed, prime: prime({ "arraycopy.io/populate-attempts": "2" }) }, started))).toEqual(
      { kind: "replacePod", failure: "target is smaller than the copy", attempts: 3 },
    );
  });

  it("waits out the backoff before the next pod", () => {
    const g = gathered({ prime: prime({ [retryAtAnnotation]: "2026-12-02T12:00:20Z" }) }, started);
    expect(decide(g)).toMatchObject({ kind: "wait", ms: 20_000 });
    expect(retryDelayMs(1)).toBe(10_000);
    expect(retryDelayMs(3)).toBe(40_000);
    expect(retryDelayMs(20)).toBe(300_000);
  });

  it("rebinds once the pod succeeded, then finishes when the claim is Bound to that volume", () => {
    const g = gathered({ pod: pod("Succeeded"), prime: prime(), primePv }, started);
    expect(decide(g)).toMatchObject({ kind: "rebind", mode: "Block" });
    const rebound = fromJson(V1PersistentVolume, { metadata: { name: "pv-1" }, spec: { claimRef: { uid } } });
    expect(decide(gathered({ primePv: rebound, prime: prime() }, started)).kind).toBe("wait");
    expect(decide(gathered({ primePv: rebound, prime: prime() }, started, "pv-1"))).toEqual({
      kind: "finish",
      volume: "pv-1",
    });
  });

  it("cleans up a claim being deleted, and one bound to a volume it did not make", () => {
    expect(decide(gathered({ prime: prime() }, { ...started, deletionTimestamp: "2026-12-02T11:00:00Z" })).kind).toBe(
      "cleanup",
    );
    expect(decide(gathered({ prime: prime() }, started, "other")).kind).toBe("cleanup");
  });

  it("reads storage quantities", () => {
    expect(quantityBytes("8Mi")).toBe(8 << 20);
    expect(quantityBytes("1G")).toBe(1e9);
    expect(quantityBytes("1.5Gi")).toBe(1.5 * 1024 ** 3);
    expect(quantityBytes("12")).toBe(12);
    expect(quantityBytes("1e3")).toBeUndefined();
  });
});
