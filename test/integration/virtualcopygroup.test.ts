// VirtualCopyGroup end to end on the real apiserver with the embedded engine: members by label selector (PVCs),
// by volume names and by an array volume set go Ready with every member listed and one point in time; a group
// copy that fails on a member is Broken and leaves nothing on the array; a restart after a create whose answer was
// lost makes no second set of copies; deletion removes the member copies (Delete) or keeps them (Retain); an
// engine without group copies is never asked for one; a Restore CopyJob on a group restores every member with one
// array task each and one combined outcome, and a member whose restore is refused fails the job and the group,
// naming it, with no further member started.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { CopyObservation, Engine } from "../../operator/src/engine/port.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import { FaultyEngine, type Fault } from "../support/faulty-engine.ts";
import { LimitedEngine } from "../support/limited-engine.ts";
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

const cls = `vg-it-${Math.random().toString(36).slice(2, 7)}`;
const volumes = ["db-data", "db-wal", "db-logs", "other"];
let op: RunningOperator;
let ns: string;
/** The fault the next createGroupVirtualCopy meets, then `laterFault` for every later one. */
let nextFault: Fault | undefined;
let laterFault: Fault | undefined;
const faulty = (e: Engine) =>
  new FaultyEngine(e, (method) => {
    if (method !== "createGroupVirtualCopy") return undefined;
    const f = nextFault ?? laterFault;
    nextFault = undefined;
    return f;
  }).engine();

interface Member {
  arrayName: string;
  sourceVolume: string;
  persistentVolumeClaimName?: string;
  syncState?: string;
  ready: boolean;
}
interface Group {
  metadata: { uid: string; finalizers?: string[] };
  status?: {
    namePrefix?: string;
    members?: Member[];
    memberCount?: number;
    readyMembers?: number;
    whenSynced?: string;
    conditions?: ConditionView[];
  };
}

const group = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopyGroup",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, ...spec },
});
interface Job {
  status?: {
    jobState?: string;
    operationalStatus?: string[];
    members?: { arrayName: string; sourceVolume: string; arrayJobId?: string; jobState?: string }[];
    conditions?: ConditionView[];
  };
}
const restoreJob = (name: string, groupName: string) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "CopyJob",
  metadata: { name, namespace: ns },
  spec: { copyRef: { kind: "VirtualCopyGroup", name: groupName }, operation: "Restore" },
});
const readyGroup = (name: string) => waitForCondition<Group>("virtualcopygroup", ns, name, "Ready");
const labelled = (claim: string, volume: string, labels: Record<string, string>) => {
  const [pv, pvc] = claimOf(ns, claim, volume) as [unknown, { metadata: Record<string, unknown> }];
  return [pv, { ...pvc, metadata: { ...pvc.metadata, labels } }];
};
/** The engine's copies of a group, by the prefix the status shows. */
async function copiesOf(prefix: string): Promise<CopyObservation[]> {
  const engine = await op.engine(cls);
  return (await engine.listCopies()).filter((c) => c.name.startsWith(prefix));
}
const prefixOf = (uid: string) => `vg-${uid.replace(/-/g, "").slice(0, 22)}-`;

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("vg");
  applyYaml(embeddedClass(cls));
  op = startOperator([], { wrap: faulty });
  const engine = await op.engine(cls);
  for (const v of volumes) await engine.volumes.createVolume(v, 4 << 20);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("VirtualCopyGroup", () => {
  it("copies the claims a selector matches at one point in time, listing every member", async () => {
    const engine = await op.engine(cls);
    for (const v of volumes) await engine.volumes.writeVolume(v, 0, Buffer.alloc(4096, 0x11));
    applyYaml(
      ...labelled("data", "db-data", { app: "db" }),
      ...labelled("wal", "db-wal", { app: "db" }),
      ...labelled("logs", "db-logs", { app: "db" }),
      ...labelled("unrelated", "other", { app: "web" }),
      group("db", { members: { selector: { matchLabels: { app: "db" } } } }),
    );
    await kubectlAsyncOk(["wait", "--for=condition=Ready", "virtualcopygroup/db", "-n", ns, "--timeout=60s"]);
    const obj = await readyGroup("db");
    const prefix = prefixOf(obj.metadata.uid);
    expect(obj.status).toMatchObject({ namePrefix: prefix, memberCount: 3, readyMembers: 3 });
    // Claims are listed in name order: data, logs, wal.
    expect(obj.status?.members).toEqual([
      {
        arrayName: `${prefix}0`,
        sourceVolume: "db-data",
        persistentVolumeClaimName: "data",
        syncState: "Idle",
        ready: true,
      },
      {
        arrayName: `${prefix}1`,
        sourceVolume: "db-logs",
        persistentVolumeClaimName: "logs",
        syncState: "Idle",
        ready: true,
      },
      {
        arrayName: `${prefix}2`,
        sourceVolume: "db-wal",
        persistentVolumeClaimName: "wal",
        syncState: "Idle",
        ready: true,
      },
    ]);
    expect(obj.status?.whenSynced).toMatch(/Z$/);
    expect(obj.metadata.finalizers).toContain("arraycopy.io/array-object");
    expect(conditionOf(obj, "Reconciling")).toBeUndefined();
    // The copies are on the array, tagged with the group, and hold the point in time after the bases move on.
    const copies = await copiesOf(prefix);
    expect(copies.map((c) => c.owner)).toEqual(Array(3).fill({ namespace: ns, name: "db", uid: obj.metadata.uid }));
    for (const v of volumes) await engine.volumes.writeVolume(v, 0, Buffer.alloc(4096, 0x22));
    for (const c of copies)
      expect((await engine.volumes.readVolume(c.name, 0, 4096)).every((b) => b === 0x11)).toBe(true);
    await eventually(() => {
      expect(eventsFor(ns, "db").map((e) => e.reason)).toContain("Ready");
    });
  });

  it("copies the members of an array volume set in the set's order", async () => {
    const engine = await op.engine(cls);
    await engine.volumes.createVolumeSet("db-set", ["db-wal", "db-data"]);
    applyYaml(group("by-set", { members: { volumeSet: "db-set" }, expirationHours: 48, retentionHours: 1 }));
    const obj = await readyGroup("by-set");
    expect(obj.status?.members?.map((m) => m.sourceVolume)).toEqual(["db-wal", "db-data"]);
    expect(getObject<{ status: { volumeSet?: string } }>("virtualcopygroup", ns, "by-set")?.status.volumeSet).toBe(
      "db-set",
    );
  });

  it("is Broken when a member fails, with a Warning event, and leaves no copy on the array", async () => {
    nextFault = "member-fails";
    applyYaml(group("half", { members: { volumes: ["db-data", "db-wal", "db-logs"] } }));
    await eventually(() => {
      const obj = getObject<Group>("virtualcopygroup", ns, "half");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "Broken" });
      expect(conditionOf(obj, "Stalled")).toMatchObject({ status: "True", reason: "Broken" });
      expect(conditionOf(obj, "Ready")?.message).toMatch(/failed on its second member; the 1 member copies it left/);
    });
    const obj = getObject<Group>("virtualcopygroup", ns, "half");
    // The fault made the first member's copy for real: the group deleted it.
    expect(await copiesOf(prefixOf(obj?.metadata.uid ?? ""))).toEqual([]);
    await eventually(() => {
      const events = eventsFor(ns, "half");
      expect(events).toContainEqual(expect.objectContaining({ type: "Warning", reason: "Broken" }));
      expect(events).toContainEqual(expect.objectContaining({ type: "Normal", reason: "Deleted" }));
    });
    // Broken stays Broken: nothing is made again.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await copiesOf(prefixOf(obj?.metadata.uid ?? ""))).toEqual([]);
    await kubectlAsyncOk(["delete", "virtualcopygroup", "half", "-n", ns, "--timeout=30s"]);
  });

  it("makes no second set of copies when the operator restarts after a create whose answer was lost", async () => {
    // The create lands but its answer is lost, and the array answers no more until the operator is gone.
    nextFault = "timeout-after-apply";
    laterFault = "unavailable";
    applyYaml(group("restart", { members: { volumes: ["db-data", "db-logs"] } }));
    const uid = await eventually(() => {
      const obj = getObject<Group>("virtualcopygroup", ns, "restart");
      expect(conditionOf(obj, "Ready")?.reason).toBe("ArrayUnavailable");
      return obj?.metadata.uid ?? "";
    });
    const before = await copiesOf(prefixOf(uid));
    expect(before).toHaveLength(2);
    const registry = op.registry;
    await op.stop(true);
    laterFault = undefined;
    op = startOperator([], { registry, wrap: faulty });
    const obj = await readyGroup("restart");
    expect(obj.status?.memberCount).toBe(2);
    const after = await copiesOf(prefixOf(uid));
    expect(after.map((c) => [c.name, c.createdAt])).toEqual(before.map((c) => [c.name, c.createdAt]));
    const engine = await op.engine(cls);
    const ofData = (await engine.listCopies()).filter((c) => c.owner.uid === uid);
    expect(ofData).toHaveLength(2);
  });

  it("deletes every member copy with policy Delete, keeps them with Retain", async () => {
    applyYaml(
      group("gone", { members: { volumes: ["db-data", "db-wal"] }, deletionPolicy: "Delete" }),
      group("kept", { members: { pvcs: ["data", "logs"] }, deletionPolicy: "Retain" }),
    );
    const gone = prefixOf((await readyGroup("gone")).metadata.uid);
    const kept = prefixOf((await readyGroup("kept")).metadata.uid);
    expect(await copiesOf(gone)).toHaveLength(2);
    await kubectlAsyncOk(["delete", "virtualcopygroup", "gone", "kept", "-n", ns, "--timeout=60s"]);
    expect(await copiesOf(gone)).toEqual([]);
    const left = await copiesOf(kept);
    expect(left.map((c) => c.source).sort()).toEqual(["db-data", "db-logs"]);
    const engine = await op.engine(cls);
    for (const c of left) await engine.deleteCopy({ name: c.name, owner: c.owner });
  });

  it("shows a selector that matches nothing as SourceNotFound, and converges once a claim appears", async () => {
    applyYaml(group("early", { members: { selector: { matchLabels: { app: "late" } } } }));
    await eventually(() => {
      const obj = getObject<Group>("virtualcopygroup", ns, "early");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "SourceNotFound" });
    });
    applyYaml(...labelled("late", "other", { app: "late" }));
    const obj = await readyGroup("early");
    expect(obj.status?.members?.map((m) => m.persistentVolumeClaimName)).toEqual(["late"]);
  });

  it("restores every member as one CopyJob: one array task per member, Completed when all are", async () => {
    const engine = await op.engine(cls);
    const bases = ["r-a", "r-b", "r-c"];
    for (const v of bases) {
      await engine.volumes.createVolume(v, 1 << 20);
      await engine.volumes.writeVolume(v, 0, Buffer.alloc(4096, 0x11));
    }
    applyYaml(group("to-restore", { members: { volumes: bases } }));
    const prefix = prefixOf((await readyGroup("to-restore")).metadata.uid);
    for (const v of bases) await engine.volumes.writeVolume(v, 0, Buffer.alloc(4096, 0x22));
    applyYaml(restoreJob("restore-all", "to-restore"));
    const job = await waitForCondition<Job>("copyjob", ns, "restore-all", "Succeeded");
    expect(conditionOf(job, "Succeeded")).toMatchObject({ reason: "Completed" });
    expect(conditionOf(job, "Succeeded")?.message).toContain("completed on all 3 members");
    expect(job.status).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    const members = job.status?.members ?? [];
    expect(members.map((m) => [m.arrayName, m.sourceVolume, m.jobState])).toEqual(
      bases.map((v, i) => [`${prefix}${i}`, v, "Completed"]),
    );
    expect(new Set(members.map((m) => m.arrayJobId)).size).toBe(3);
    for (const v of bases) expect((await engine.volumes.readVolume(v, 0, 4096)).every((b) => b === 0x11)).toBe(true);
    await eventually(() => {
      const started = eventsFor(ns, "restore-all").filter((e) => e.reason === "Started");
      expect(started).toHaveLength(3);
      expect(conditionOf(getObject<Group>("virtualcopygroup", ns, "to-restore"), "Ready")?.status).toBe("True");
    });
  });

  it("fails the job when a member restore is refused, naming it; starts no more; the group is Broken", async () => {
    const engine = await op.engine(cls);
    const bases = ["f-a", "f-b", "f-c"];
    for (const v of bases) await engine.volumes.createVolume(v, 1 << 20);
    applyYaml(group("half-restored", { members: { volumes: bases } }));
    const prefix = prefixOf((await readyGroup("half-restored")).metadata.uid);
    // The second member's base has grown since the copy: the array refuses to restore onto it.
    await engine.volumes.resizeVolume("f-b", 2 << 20);
    applyYaml(restoreJob("restore-half", "half-restored"));
    const job = await waitForCondition<Job>("copyjob", ns, "restore-half", "Stalled");
    expect(conditionOf(job, "Succeeded")).toMatchObject({ status: "False", reason: "Failed" });
    const message = conditionOf(job, "Succeeded")?.message ?? "";
    expect(message).toContain(`failed on member ${prefix}1 (onto f-b)`);
    expect(message).toContain("has grown");
    expect(message).toContain(`not started: ${prefix}2`);
    expect(job.status).toMatchObject({ jobState: "Exception", operationalStatus: ["Completed", "Error"] });
    expect(job.status?.members?.map((m) => [m.jobState, m.arrayJobId === undefined])).toEqual([
      ["Completed", false],
      ["Exception", true],
      ["New", true],
    ]);
    // The group names the job; nothing was made on the array, and the third member was never asked.
    await eventually(() => {
      const obj = getObject<Group>("virtualcopygroup", ns, "half-restored");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "Broken" });
      expect(conditionOf(obj, "Ready")?.message).toContain("restore job restore-half failed");
    });
    expect((await copiesOf(prefix)).map((c) => c.name)).toEqual([0, 1, 2].map((i) => `${prefix}${i}`));
    expect((await engine.observeCopy(`${prefix}2`))?.lastJob).toBeUndefined();
    await eventually(() => {
      expect(eventsFor(ns, "restore-half")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "Failed" }),
      );
    });
  });

  it("is NotSupported on an engine without group copies, which is never asked for one", async () => {
    const limited = new LimitedEngine({ groupVirtualCopies: false });
    const registry = op.registry;
    await op.stop(true);
    op = startOperator([], { registry, wrap: (e) => limited.wrap(e) });
    applyYaml(group("unsupported", { members: { volumes: ["db-data"] } }));
    await eventually(() => {
      const obj = getObject<Group>("virtualcopygroup", ns, "unsupported");
      expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "NotSupported" });
      expect(conditionOf(obj, "Ready")?.message).toContain("does not make group virtual copies");
    });
    expect(limited.calls.get("createGroupVirtualCopy")).toBeUndefined();
  });
});
