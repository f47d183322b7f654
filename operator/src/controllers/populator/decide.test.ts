import { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { fromJson } from "../../kube/models.ts";
import { describe, expect, it } from "vitest";
import { decide, quantityBytes, retryAtAnnotation, retryDelayMs, type Gathered } from "./decide.ts";
import { allowedOverrides, type CloneView } from "./strategy.ts";

const uid = "6b1e2c3d-0000-4000-8000-000000000001";
const fingerprint = `sha256:${"ab".repeat(32)}`;
const source = { address: "https://10.0.0.5:8081", caCert: "PEM", caFingerprint: fingerprint };
/** The pod's arraycopy.io/populate-source as this replica writes it: its address and its certificate. */
const address = `https://10.0.0.5:8081 ${fingerprint}`;

function gathered(
  mods: Partial<Gathered> = {},
  claimMods: Record<string, unknown> = {},
  boundTo?: string,
  specMods: Record<string, unknown> = {},
): Gathered {
  const claim = fromJson(V1PersistentVolumeClaim, {
    metadata: { name: "restored", namespace: "app", uid, ...claimMods },
    spec: {
      storageClassName: "csi",
      accessModes: ["ReadWriteOnce"],
      volumeMode: "Block",
      resources: { requests: { storage: "1Gi" } },
      dataSourceRef: { apiGroup: "arraycopy.io", kind: "VirtualCopy", name: "snap" },
      ...(boundTo === undefined ? {} : { volumeName: boundTo }),
      ...specMods,
    },
    ...(boundTo === undefined ? {} : { status: { phase: "Bound" } }),
  });
  return {
    claim,
    ref: { namespace: "app", name: "restored", uid },
    now: Date.parse("2026-12-02T12:00:00Z"),
    settings: { image: "img", namespace: "arraycopy-system", source },
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
    engine: { ok: true, className: "embedded", readsVolumes: true, csiImport: false, csiDriver: "csi.hpe.com" },
    storageClass: {
      name: "csi",
      provisioner: "csi.example",
      waitForConsumer: false,
      reclaimPolicy: "Delete",
      fsType: "ext4",
      mountOptions: undefined,
      csi: true,
      overrides: [],
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
    ["no populator image", { settings: { image: undefined, namespace: "n", source } }, "PopulatorDisabled"],
    [
      "an engine that can neither read nor make volumes its CSI driver imports",
      { engine: { ok: true, className: "w", readsVolumes: false, csiImport: false, csiDriver: "csi.hpe.com" } },
      "NoPopulateStrategy",
    ],
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

  it.each([
    ["an earlier leader's address", `https://10.0.0.9:8081 ${fingerprint}`],
    ["this address with an earlier certificate (this replica before it restarted)", `${source.address} sha256:00`],
    ["an address of an operator from before TLS (no certificate)", "http://10.0.0.5:8081"],
  ])("replaces at once a pod that pins %s", (_why, pinned) => {
    expect(decide(gathered({ pod: pod("Running", pinned), prime: prime() }, started))).toEqual({
      kind: "replacePod",
      failure: undefined,
      attempts: 0,
    });
  });

  it("leaves a running pod that pins this replica, and replaces a failed one with its reason and a count", () => {
    expect(decide(gathered({ pod: pod("Running"), prime: prime() }, started))).toMatchObject({ kind: "wait" });
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
    expect(decide(g)).toMatchObject({ kind: "rebind", handoff: "claimRef" });
    const fs = gathered({ pod: pod("Succeeded"), prime: prime(), primePv }, started, undefined, {
      volumeMode: "Filesystem",
    });
    expect(decide(fs)).toMatchObject({ kind: "rebind", handoff: "filesystemPv" });
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

describe("populator decide: the array clone", () => {
  const wsapi = {
    ok: true,
    className: "array",
    readsVolumes: false,
    csiImport: true,
    csiDriver: "csi.hpe.com",
  } as const;
  const hpe = {
    name: "hpe",
    provisioner: "csi.hpe.com",
    waitForConsumer: false,
    reclaimPolicy: "Delete",
    fsType: "xfs",
    mountOptions: undefined,
    csi: true,
    overrides: ["description", "importVolumeName"],
  };
  const cloneOf = (mods: Partial<Gathered> = {}, claimMods: Record<string, unknown> = {}, spec = {}) =>
    gathered({ engine: wsapi, storageClass: hpe, ...mods }, claimMods, undefined, spec);
  const clone = (c: CloneView): Partial<Gathered> => ({ clone: c });
  const primeOf = (volumeName?: string) =>
    fromJson(V1PersistentVolumeClaim, {
      metadata: { uid: "p", annotations: { "volume.kubernetes.io/selected-node": "node-2" } },
      spec: volumeName === undefined ? {} : { volumeName },
    });
  const importedPv = fromJson(V1PersistentVolume, {
    metadata: { name: "pvc-p" },
    spec: { claimRef: { uid: "p" }, csi: { driver: "csi.hpe.com", volumeHandle: "pvc-p" } },
  });

  it.each([
    {
      why: "an engine whose volumes the class's CSI driver imports, with a StorageClass of that driver",
      mods: {},
      kind: "startClone",
    },
    {
      why: "the clone is preferred over the data path when both serve (nothing crosses the network)",
      mods: { engine: { ...wsapi, readsVolumes: true } },
      kind: "startClone",
    },
    {
      why: "a StorageClass of another driver falls back to the data path when the engine reads volumes",
      mods: { engine: { ...wsapi, readsVolumes: true }, storageClass: { ...hpe, provisioner: "csi.example" } },
      kind: "start",
    },
    {
      why: "no populator image is needed: no pod runs",
      mods: { settings: { image: undefined, namespace: "arraycopy-system", source } },
      kind: "startClone",
    },
  ])("chooses by capability: $why", ({ mods, kind }) => {
    expect(decide(cloneOf(mods as Partial<Gathered>)).kind).toBe(kind);
  });

  it.each([
    {
      why: "a StorageClass that does not let a PVC override importVolumeName (the driver would make a blank volume)",
      mods: { storageClass: { ...hpe, overrides: ["description"] } },
      reason: "NoPopulateStrategy",
      message: "add importVolumeName to the StorageClass's allowOverrides parameter",
    },
    {
      why: "a StorageClass of another CSI driver than the class's",
      mods: { storageClass: { ...hpe, provisioner: "csi.example" } },
      reason: "NoPopulateStrategy",
      message: "needs a StorageClass of CSI driver csi.hpe.com (the CopyClass's csiDriver), but StorageClass hpe",
    },
    {
      why: "a claim larger than the copy (the driver imports a volume at its own size)",
      mods: {},
      spec: { resources: { requests: { storage: "2Gi" } } },
      reason: "ClaimTooLarge",
      message: "request exactly that",
    },
  ])("refuses $why", ({ mods, reason, message, spec }) => {
    const g = cloneOf(mods, {}, spec);
    const plan = decide(g);
    expect(plan).toMatchObject({ kind: "refuse", reason });
    expect(plan.kind === "refuse" ? plan.message : "").toContain(message);
  });

  it("serves ReadOnlyMany and a StorageClass without a CSIDriver object: nothing writes the volume here", () => {
    const g = cloneOf({ storageClass: { ...hpe, csi: false } }, {}, { accessModes: ["ReadOnlyMany"] });
    expect(decide(g).kind).toBe("startClone");
  });

  it("waits for the array's copy, imports a complete one, and replaces a failed one", () => {
    expect(decide(cloneOf(clone({ state: "copying", percent: 40 }), started))).toMatchObject({
      kind: "wait",
      message: expect.stringContaining("(40 %)") as unknown,
    });
    expect(decide(cloneOf(clone({ state: "complete", sizeBytes: 1 << 30 }), started))).toEqual({
      kind: "importClone",
      node: undefined,
    });
    expect(decide(cloneOf(clone({ state: "failed", why: "halted" }), started))).toEqual({
      kind: "cloneFailed",
      failure: "halted",
      remove: true,
    });
    // A volume of that name tagged for someone else is never adopted nor deleted.
    expect(decide(cloneOf(clone({ state: "foreign", owner: "x/y (z)" }), started))).toMatchObject({
      kind: "cloneFailed",
      remove: false,
    });
  });

  it("imports on the node the scheduler chose for WaitForFirstConsumer", () => {
    const g = cloneOf(
      { ...clone({ state: "complete", sizeBytes: 1 << 30 }), storageClass: { ...hpe, waitForConsumer: true } },
      { ...started, annotations: { "volume.kubernetes.io/selected-node": "node-1" } },
    );
    expect(decide(g)).toEqual({ kind: "importClone", node: "node-1" });
  });

  it("waits for the driver's import until PVC′ is Bound to its PV, then hands that PV to the claim", () => {
    const done = clone({ state: "complete", sizeBytes: 1 << 30 });
    expect(decide(cloneOf({ ...done, prime: primeOf() }, started))).toMatchObject({
      kind: "wait",
      message: expect.stringContaining("to import array volume cl-") as unknown,
    });
    // The provisioner made the PV, the PV controller has not bound PVC′ yet.
    expect(decide(cloneOf({ ...done, prime: primeOf(), primePv: importedPv }, started)).kind).toBe("wait");
    // Imported as the HPE CSP does: our clone renamed away, the PV's array volume confirmed on the array.
    const imported = {
      clone: { state: "absent" },
      prime: primeOf("pvc-p"),
      primePv: importedPv,
      imported: { ok: true, volume: "pvc-p" },
    } as const;
    expect(decide(cloneOf(imported, started))).toEqual({
      kind: "rebind",
      handoff: "claimRef",
      pv: importedPv,
      volume: "pvc-p",
    });
    // A Filesystem claim is handed over the same way: PVC′ was made in its mode, not in Block.
    const fs = cloneOf(imported, started, { volumeMode: "Filesystem" });
    expect(decide(fs)).toMatchObject({ kind: "rebind", handoff: "claimRef" });
  });

  it("does not hand over a PV when the import did not happen as the HPE CSP does it", () => {
    const bound = { prime: primeOf("pvc-p"), primePv: importedPv, imported: { ok: true, volume: "pvc-p" } } as const;
    // Our clone still there under its own name: the driver made some other volume (it ignored the annotation).
    expect(decide(cloneOf({ ...bound, ...clone({ state: "complete", sizeBytes: 1 << 30 }) }, started))).toMatchObject({
      kind: "cloneFailed",
      failure: expect.stringContaining(
        "still on the array under its own name: csi.hpe.com did not import it",
      ) as unknown,
      remove: false,
    });
    // The PV's array volume is not on the array: the resolver's message says which it expected.
    const missing = {
      ok: false,
      reason: "SourceNotFound",
      message: "PersistentVolume pvc-p's array volume x is gone",
    } as const;
    expect(decide(cloneOf({ ...bound, clone: { state: "absent" }, imported: missing }, started))).toMatchObject({
      kind: "cloneFailed",
      failure: expect.stringContaining(
        "cannot be confirmed: PersistentVolume pvc-p's array volume x is gone",
      ) as unknown,
      remove: false,
    });
  });

  it("cleans up a clone left by a deleted claim, but not the volume of a claim it was handed to", () => {
    const deleting = { deletionTimestamp: "2026-12-02T11:00:00Z" };
    const left = clone({ state: "complete", sizeBytes: 1 << 30 });
    expect(decide(cloneOf(left, deleting)).kind).toBe("cleanup");
    const handed = { ...deleting, annotations: { "arraycopy.io/populated-from": "VirtualCopy snap (c)" } };
    expect(decide(cloneOf(left, handed)).kind).toBe("ignore");
    expect(decide(cloneOf(clone({ state: "foreign", owner: "x" }), deleting)).kind).toBe("ignore");
  });

  it("reads allowOverrides as the HPE CSI driver does", () => {
    expect(allowedOverrides({ allowOverrides: " description, importVolumeName ,,\n accessProtocol" })).toEqual([
      "description",
      "importVolumeName",
      "accessProtocol",
    ]);
    expect(allowedOverrides(undefined)).toEqual([]);
  });
});
