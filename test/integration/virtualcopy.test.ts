// VirtualCopy end to end on the real apiserver with the embedded engine: create → Ready with the CIM status,
// point-in-time data verified byte for byte, PVC sources, a missing source that converges once it appears, a
// missing class, deletion under both policies, and array refusals shown as conditions and Warning events.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import {
  applyYaml,
  claimOf,
  conditionOf,
  embeddedClass,
  eventsFor,
  getObject,
  startOperator,
  waitForCondition,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `vc-it-${Math.random().toString(36).slice(2, 7)}`;
let op: RunningOperator;
let ns: string;

interface Vc {
  metadata: { finalizers?: string[]; annotations?: Record<string, string> };
  status?: {
    arrayName?: string;
    syncState?: string;
    copyType?: string;
    replicaType?: string;
    syncMaintained?: boolean;
    whenSynced?: string;
    sourceVolume?: string;
    conditions?: { type: string; status: string; reason: string; message: string; observedGeneration?: number }[];
  };
}

const vc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, ...spec },
});
const readyVc = (name: string) => waitForCondition<Vc>("virtualcopy", ns, name, "Ready", { timeoutMs: 30_000 });
const pvAndPvc = (claim: string, volume: string, driver?: string) => claimOf(ns, claim, volume, driver);

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("vc");
  applyYaml(embeddedClass(cls));
  op = startOperator();
  const engine = await op.engine(cls);
  for (const v of ["data", "db", "logs"]) await engine.volumes.createVolume(v, 4 << 20);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("VirtualCopy", () => {
  it("goes Ready with the CIM status, holds its point in time byte for byte, and kubectl wait sees it", async () => {
    const engine = await op.engine(cls);
    const before = Buffer.alloc(64 * 1024, 0xaa);
    await engine.volumes.writeVolume("data", 0, before);
    applyYaml(vc("snap", { source: { volumeName: "data" }, expirationHours: 48, retentionHours: 1 }));
    await kubectlAsyncOk(["wait", "--for=condition=Ready", "virtualcopy/snap", "-n", ns, "--timeout=60s"]);
    const obj = await readyVc("snap");
    expect(obj.status).toMatchObject({
      syncState: "Idle",
      copyType: "UnSyncAssoc",
      replicaType: "AfterDelta",
      syncMaintained: false,
      sourceVolume: "data",
    });
    expect(obj.status?.arrayName).toMatch(/^vc-[0-9a-f]{24}$/);
    expect(obj.status?.whenSynced).toMatch(/Z$/);
    // Reconciling and Stalled are written only while True: a Ready copy has neither (kstatus: Current).
    expect(conditionOf(obj, "Reconciling")).toBeUndefined();
    expect(conditionOf(obj, "Stalled")).toBeUndefined();
    expect(obj.metadata.finalizers).toContain("arraycopy.io/array-object");
    // The base moves on; the snapshot keeps its point in time.
    await engine.volumes.writeVolume("data", 0, Buffer.alloc(64 * 1024, 0x55));
    expect((await engine.volumes.readVolume(obj.status?.arrayName ?? "", 0, before.length)).equals(before)).toBe(true);
    const copy = await engine.observeCopy(obj.status?.arrayName ?? "");
    expect(copy?.owner).toMatchObject({ namespace: ns, name: "snap" });
    await eventually(() => {
      expect(eventsFor(ns, "snap").map((e) => e.reason)).toContain("Ready");
    });
  });

  it("resolves a PVC through its bound CSI PersistentVolume", async () => {
    applyYaml(...pvAndPvc("db-claim", "db"), vc("from-pvc", { source: { persistentVolumeClaimName: "db-claim" } }));
    const obj = await readyVc("from-pvc");
    expect(obj.status?.sourceVolume).toBe("db");
  });

  it("shows a missing PVC as SourceNotFound with a Warning event, then converges once the PVC appears", async () => {
    applyYaml(vc("early", { source: { persistentVolumeClaimName: "late-claim" } }));
    await eventually(() => {
      const obj = getObject<Vc>("virtualcopy", ns, "early");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "SourceNotFound" });
      expect(conditionOf(obj, "Stalled")).toMatchObject({ status: "True", reason: "SourceNotFound" });
      expect(conditionOf(obj, "Ready")?.message).toContain(`PersistentVolumeClaim ${ns}/late-claim not found`);
    });
    await eventually(() => {
      expect(eventsFor(ns, "early")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "SourceNotFound" }),
      );
    });
    applyYaml(...pvAndPvc("late-claim", "logs"));
    const obj = await readyVc("early");
    expect(obj.status?.sourceVolume).toBe("logs");
  });

  it("refuses a PV of another CSI driver with a clear reason", async () => {
    applyYaml(
      ...pvAndPvc("ebs-claim", "data", "ebs.csi.aws.com"),
      vc("wrong-driver", { source: { persistentVolumeClaimName: "ebs-claim" } }),
    );
    await eventually(() => {
      const obj = getObject<Vc>("virtualcopy", ns, "wrong-driver");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "SourceDriverMismatch" });
    });
  });

  it("shows a missing class as ClassNotFound", async () => {
    applyYaml({
      ...vc("no-class", { source: { volumeName: "data" } }),
      spec: { copyClassName: "no-such-class", source: { volumeName: "data" } },
    });
    await eventually(() => {
      const obj = getObject<Vc>("virtualcopy", ns, "no-class");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "ClassNotFound" });
      expect(conditionOf(obj, "Stalled")?.status).toBe("True");
    });
    await kubectlAsyncOk(["delete", "virtualcopy", "no-class", "-n", ns, "--timeout=30s"]);
  });

  it("deletes the array copy with policy Delete, keeps it with Retain", async () => {
    const engine = await op.engine(cls);
    applyYaml(
      vc("gone", { source: { volumeName: "data" }, deletionPolicy: "Delete" }),
      vc("kept", { source: { volumeName: "data" }, deletionPolicy: "Retain" }),
    );
    const gone = (await readyVc("gone")).status?.arrayName ?? "";
    const kept = (await readyVc("kept")).status?.arrayName ?? "";
    await kubectlAsyncOk(["delete", "virtualcopy", "gone", "kept", "-n", ns, "--timeout=60s"]);
    expect(await engine.observeCopy(gone)).toBeUndefined();
    const left = await engine.observeCopy(kept);
    expect(left).toMatchObject({ name: kept });
    if (left !== undefined) await engine.deleteCopy({ name: kept, owner: left.owner });
  });

  it("shows a retention refusal as DeletionRefused and a Warning event, keeping the resource", async () => {
    applyYaml(vc("locked", { source: { volumeName: "db" }, expirationHours: 2, retentionHours: 1 }));
    await readyVc("locked");
    await kubectlAsyncOk(["delete", "virtualcopy", "locked", "-n", ns, "--wait=false"]);
    await eventually(() => {
      const obj = getObject<Vc>("virtualcopy", ns, "locked");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "DeletionRefused" });
      expect(conditionOf(obj, "Ready")?.message).toContain("retained until");
    });
    await eventually(() => {
      expect(eventsFor(ns, "locked")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "DeletionRefused" }),
      );
    });
  });

  it("refuses to delete a copy with children until they are gone", async () => {
    applyYaml(vc("parent", { source: { volumeName: "logs" } }));
    const parent = (await readyVc("parent")).status?.arrayName ?? "";
    // A read-write child of the read-only snapshot (the array's RO ↔ RW alternation).
    applyYaml(vc("child", { source: { volumeName: parent }, readOnly: false }));
    await readyVc("child");
    await kubectlAsyncOk(["delete", "virtualcopy", "parent", "-n", ns, "--wait=false"]);
    await eventually(() => {
      expect(conditionOf(getObject<Vc>("virtualcopy", ns, "parent"), "Ready")).toMatchObject({
        reason: "DeletionRefused",
      });
    });
    await kubectlAsyncOk(["delete", "virtualcopy", "child", "-n", ns, "--timeout=60s"]);
    await eventually(() => {
      expect(getObject("virtualcopy", ns, "parent")).toBeUndefined();
    }, 60_000);
  });
});
