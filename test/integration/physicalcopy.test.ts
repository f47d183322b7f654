// PhysicalCopy and CopyJob end to end on the real apiserver with the embedded engine: the initial copy as an
// owned CopyJob, resync after new data (verified byte for byte), restore of a virtual copy onto its base, an online
// copy and its clean-up, impossible requests ended at once, a cancel, and deletion under both policies.
import { randomBytes } from "node:crypto";
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
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `pc-it-${Math.random().toString(36).slice(2, 7)}`;
const size = 8 << 20;
let op: RunningOperator;
let ns: string;

interface Obj {
  metadata: {
    name: string;
    ownerReferences?: { kind: string; name: string }[];
    finalizers?: string[];
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

const api = "arraycopy.io/v1alpha1";
const pc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: api,
  kind: "PhysicalCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, ...spec },
});
const vc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: api,
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, ...spec },
});
const job = (name: string, kind: string, copy: string, operation: string, extra: Record<string, unknown> = {}) => ({
  apiVersion: api,
  kind: "CopyJob",
  metadata: { name, namespace: ns },
  spec: { copyRef: { kind, name: copy }, operation, ...extra },
});
const waitFor = (kind: string, name: string, type: string, status: "True" | "False" = "True", timeoutMs = 60_000) =>
  waitForCondition<Obj>(kind, ns, name, type, { status, timeoutMs, intervalMs: 100 });

async function fill(volume: string): Promise<Buffer> {
  const data = randomBytes(size);
  await (await op.engine(cls)).volumes.writeVolume(volume, 0, data);
  return data;
}
const read = async (volume: string) => (await op.engine(cls)).volumes.readVolume(volume, 0, size);

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("pc");
  applyYaml(embeddedClass(cls));
  op = startOperator();
  const engine = await op.engine(cls);
  for (const v of ["prod", "test-env", "scratch", "base"]) await engine.volumes.createVolume(v, size);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("PhysicalCopy and CopyJob", () => {
  it("runs the initial copy as an owned CopyJob, goes Ready Frozen, and resyncs only to the new data", async () => {
    const first = await fill("prod");
    applyYaml(
      pc("test-copy", {
        source: { volumeName: "prod" },
        target: { volumeName: "test-env" },
        saveSnapshot: true,
        priority: "High",
      }),
    );
    const copyJob = await waitFor("copyjob", "test-copy-copy", "Succeeded");
    expect(copyJob.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "PhysicalCopy", name: "test-copy" }),
    ]);
    // The job was told what to copy in its own spec, and recorded its start intent before it started the task.
    expect(copyJob.spec).toMatchObject({ operation: "Copy", volumes: { source: "prod", target: "test-env" } });
    const intent = copyJob.metadata.annotations?.["arraycopy.io/start-requested-at"];
    expect(intent).toMatch(/Z$/);
    expect(copyJob.status?.timeSubmitted).toBe(intent);
    expect(copyJob.status).toMatchObject({
      jobState: "Completed",
      operationalStatus: ["Completed", "OK"],
      percentComplete: 100,
      errorCode: 0,
    });
    const ready = await waitFor("physicalcopy", "test-copy", "Ready");
    expect(ready.status).toMatchObject({
      syncState: "Frozen",
      copyType: "UnSyncAssoc",
      replicaType: "FullCopy",
      syncMaintained: false,
      percentSynced: 100,
      sourceVolume: "prod",
      targetVolume: "test-env",
    });
    expect((await read("test-env")).equals(first)).toBe(true);

    const second = await fill("prod");
    applyYaml(job("resync-1", "PhysicalCopy", "test-copy", "Resync", { priority: "Medium" }));
    await kubectlAsyncOk(["wait", "--for=condition=Succeeded", "copyjob/resync-1", "-n", ns, "--timeout=60s"]);
    expect((await read("test-env")).equals(second)).toBe(true);
    await waitFor("physicalcopy", "test-copy", "Ready");
    await eventually(() => {
      expect(eventsFor(ns, "resync-1").map((e) => e.reason)).toEqual(expect.arrayContaining(["Started", "Succeeded"]));
      expect(eventsFor(ns, "test-copy").map((e) => e.reason)).toEqual(
        expect.arrayContaining(["JobStarted", "JobSucceeded"]),
      );
    });
  });

  it("ends an impossible request at once: resync of an unassociated copy", async () => {
    applyYaml(pc("clone", { source: { volumeName: "prod" }, target: { create: {} } }));
    const ready = await waitFor("physicalcopy", "clone", "Ready");
    expect(ready.status).toMatchObject({
      copyType: "UnSyncUnAssoc",
      targetVolume: expect.stringMatching(/^pc-[0-9a-f]{24}$/) as string,
    });
    applyYaml(job("resync-clone", "PhysicalCopy", "clone", "Resync"));
    const failed = await waitFor("copyjob", "resync-clone", "Succeeded", "False");
    expect(conditionOf(failed, "Succeeded")).toMatchObject({ reason: "NotAssociated" });
    expect(failed.status).toMatchObject({ jobState: "Exception", operationalStatus: ["Completed", "Error"] });
    expect(conditionOf(failed, "Stalled")?.status).toBe("True");
    await eventually(() => {
      expect(eventsFor(ns, "resync-clone")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "Failed" }),
      );
    });
  });

  it(
    "deletes an online copy's target with policy Delete, and keeps an offline " + "target while ending its association",
    async () => {
      const engine = await op.engine(cls);
      const clone = String((getObject<Obj>("physicalcopy", ns, "clone")?.status ?? {}).targetVolume);
      await kubectlAsyncOk(["delete", "physicalcopy", "clone", "-n", ns, "--timeout=60s"]);
      expect(await engine.observeCopy(clone)).toBeUndefined();
      await kubectlAsyncOk(["delete", "physicalcopy", "test-copy", "-n", ns, "--timeout=60s"]);
      const target = await engine.observeCopy("test-env");
      expect(target?.synchronization).toBeUndefined();
      expect((await engine.volumes.listVolumes()).map((v) => v.name)).toContain("test-env");
    },
  );

  it("refuses two claims on one array volume as source and target, at run time: TargetIsSource", async () => {
    applyYaml(
      ...claimOf(ns, "scratch-a", "scratch"),
      ...claimOf(ns, "scratch-b", "scratch"),
      pc("onto-itself", {
        source: { persistentVolumeClaimName: "scratch-a" },
        target: { persistentVolumeClaimName: "scratch-b" },
      }),
    );
    await eventually(() => {
      const obj = getObject<Obj>("physicalcopy", ns, "onto-itself");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "TargetIsSource" });
      expect(conditionOf(obj, "Stalled")).toMatchObject({ status: "True", reason: "TargetIsSource" });
    });
    expect(getObject<Obj>("copyjob", ns, "onto-itself-copy")).toBeUndefined();
    await eventually(() => {
      expect(eventsFor(ns, "onto-itself")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "TargetIsSource" }),
      );
    });
  });

  it("restores a virtual copy onto its base, byte for byte", async () => {
    const original = await fill("base");
    applyYaml(vc("base-snap", { source: { volumeName: "base" } }));
    await waitFor("virtualcopy", "base-snap", "Ready");
    await fill("base");
    applyYaml(job("rollback", "VirtualCopy", "base-snap", "Restore", { priority: "High" }));
    const done = await waitFor("copyjob", "rollback", "Succeeded");
    expect(done.status).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    expect((await read("base")).equals(original)).toBe(true);
    await waitFor("virtualcopy", "base-snap", "Ready");
  });

  it("terminates a job through its spec before the array starts it", async () => {
    applyYaml(job("never", "PhysicalCopy", "not-yet", "StartCopy"));
    await eventually(() => {
      expect(conditionOf(getObject<Obj>("copyjob", ns, "never"), "Succeeded")).toMatchObject({
        status: "Unknown",
        reason: "WaitingForCopy",
      });
    });
    await kubectlAsyncOk([
      "patch",
      "copyjob",
      "never",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { requestedState: "Terminate" } }),
    ]);
    const ended = await waitFor("copyjob", "never", "Succeeded", "False");
    expect(ended.status).toMatchObject({ jobState: "Terminated" });
    expect(conditionOf(ended, "Succeeded")?.reason).toBe("Terminated");
  });

  it("never changes a finished job again and deletes it after its TTL", async () => {
    applyYaml(
      job("short-lived", "PhysicalCopy", "gone-copy", "Detach", {
        requestedState: "Terminate",
        ttlSecondsAfterFinished: 2,
      }),
    );
    const finished = await waitFor("copyjob", "short-lived", "Succeeded", "False");
    const at = conditionOf(finished, "Succeeded");
    await eventually(() => {
      expect(getObject("copyjob", ns, "short-lived")).toBeUndefined();
    }, 30_000);
    expect(at?.reason).toBe("Terminated");
  });
});
