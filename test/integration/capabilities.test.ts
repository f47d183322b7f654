// Calls are gated on the engine's capabilities, on a real apiserver: a class whose engine says it cannot expire
// copies, restore them or create a physical copy's target refuses exactly those specs with NotSupported (Stalled,
// a Warning event, nothing sent to the array), and still does everything else.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freshNamespace, installCrds, kubectl } from "../support/cluster.ts";
import { LimitedEngine } from "../support/limited-engine.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  eventsFor,
  getObject,
  startOperator,
  waitForCondition,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `caps-${Math.random().toString(36).slice(2, 7)}`;
const api = "arraycopy.io/v1alpha1";
const limited = new LimitedEngine({ expiration: false, restore: false, onlinePhysicalCopies: false });
let op: RunningOperator;
let ns: string;

interface Obj {
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}
const of = (kind: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: api,
  kind,
  metadata: { name, namespace: ns },
  spec: kind === "CopyJob" ? spec : { copyClassName: cls, ...spec },
});
const waitFor = (kind: string, name: string, type: string, status: "True" | "False" = "True") =>
  waitForCondition<Obj>(kind, ns, name, type, { status, timeoutMs: 60_000, intervalMs: 100 });

async function expectNotSupported(kind: string, name: string, condition: string, says: string): Promise<void> {
  await eventually(() => {
    const obj = getObject<Obj>(kind, ns, name);
    expect(conditionOf(obj, condition)).toMatchObject({ status: "False", reason: "NotSupported" });
    expect(conditionOf(obj, "Stalled")).toMatchObject({ status: "True", reason: "NotSupported" });
    expect(conditionOf(obj, condition)?.message).toContain(says);
  });
}

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("caps");
  applyYaml(embeddedClass(cls));
  op = startOperator([], { wrap: (e) => limited.wrap(e) });
  const engine = await op.engine(cls);
  for (const v of ["data", "target"]) await engine.volumes.createVolume(v, 4 << 20);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("capability gating", () => {
  it("a virtual copy asking for expiration is NotSupported, with a Warning; one without it goes Ready", async () => {
    applyYaml(
      of("VirtualCopy", "expiring", { source: { volumeName: "data" }, expirationHours: 24 }),
      of("VirtualCopy", "plain", { source: { volumeName: "data" } }),
    );
    await waitFor("virtualcopy", "plain", "Ready");
    await expectNotSupported("virtualcopy", "expiring", "Ready", "spec.expirationHours");
    await eventually(() => {
      expect(eventsFor(ns, "expiring")).toContainEqual(
        expect.objectContaining({ type: "Warning", reason: "NotSupported" }),
      );
    });
    // Only the plain copy reached the array.
    expect(limited.calls.get("createVirtualCopy")).toBe(1);
    const names = (await (await op.engine(cls)).listCopies()).map((c) => c.owner.name);
    expect(names).toEqual(["plain"]);
  });

  it("a restore on an engine that cannot restore ends at once, NotSupported, and starts no task", async () => {
    applyYaml(of("CopyJob", "rollback", { copyRef: { kind: "VirtualCopy", name: "plain" }, operation: "Restore" }));
    const failed = await waitFor("copyjob", "rollback", "Succeeded", "False");
    expect(conditionOf(failed, "Succeeded")).toMatchObject({ reason: "NotSupported" });
    expect(failed.status).toMatchObject({ jobState: "Exception", operationalStatus: ["Completed", "Error"] });
    expect(limited.calls.get("startJob")).toBeUndefined();
  });

  it("an online physical copy on an engine that cannot create targets makes no job; an offline one runs", async () => {
    applyYaml(
      of("PhysicalCopy", "online", { source: { volumeName: "data" }, target: { create: {} } }),
      of("PhysicalCopy", "offline", { source: { volumeName: "data" }, target: { volumeName: "target" } }),
    );
    await waitFor("physicalcopy", "offline", "Ready");
    await expectNotSupported("physicalcopy", "online", "Ready", "online copy");
    expect(getObject<Obj>("copyjob", ns, "online-copy")).toBeUndefined();
    expect(limited.calls.get("createPhysicalCopy")).toBe(1);
  });
});
