// What operators of the operator read: /healthz, /readyz, Prometheus metrics (reconciles per controller, queue,
// engine latency, copies by SyncState, jobs by JobState), and logs with no credentials in them.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freshNamespace, installCrds, kubectl } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  getObject,
  startOperator,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `ops-${Math.random().toString(36).slice(2, 7)}`;
let op: RunningOperator;
let ns: string;
let base: string;

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("ops");
  applyYaml(embeddedClass(cls));
  op = startOperator();
  base = `http://127.0.0.1:${String(await op.metricsPort)}`;
  await (await op.engine(cls)).volumes.createVolume("m-src", 1 << 20);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("health and metrics", () => {
  it("answers /healthz and, once the caches synced, /readyz with the leader state", async () => {
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    await eventually(async () => {
      const res = await fetch(`${base}/readyz`);
      expect(res.status).toBe(200);
      expect(await res.text()).toMatch(/^ok; (leader|standby)/);
    });
  });

  it("counts reconciles, engine calls, copies by SyncState and jobs by JobState", async () => {
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name: "metered", namespace: ns },
      spec: { copyClassName: cls, source: { volumeName: "m-src" } },
    });
    await eventually(() => {
      expect(conditionOf(getObject("virtualcopy", ns, "metered"), "Ready")?.status).toBe("True");
    });
    await eventually(async () => {
      const text = await (await fetch(`${base}/metrics`)).text();
      expect(text).toMatch(/^arraycopy_reconcile_total\{controller="virtualcopy",outcome="done"\} [1-9]/m);
      expect(text).toMatch(/^arraycopy_reconcile_duration_seconds_count\{controller="virtualcopy"\} [1-9]/m);
      expect(text).toMatch(/^arraycopy_workqueue_adds_total\{controller="virtualcopy"\} [1-9]/m);
      expect(text.split("\n")).toContain(
        'arraycopy_engine_operation_duration_seconds_count{driver="embedded",operation="createVirtualCopy",' +
          'outcome="ok"} 1',
      );
      expect(text).toMatch(/^arraycopy_copies\{kind="VirtualCopy",sync_state="Idle"\} [1-9]/m);
      expect(text).toMatch(/^arraycopy_leader 1$/m);
      expect(text).toContain("# TYPE arraycopy_jobs gauge");
    });
  });
});

describe("CopyClass", () => {
  it("is Ready once its engine is built, and Stalled with the reason when it cannot be", async () => {
    await eventually(() => {
      const ready = conditionOf(getObject("copyclass", undefined, cls), "Ready");
      expect(ready).toMatchObject({ status: "True", reason: "EngineReady" });
      expect(ready?.message).toContain("2 physical copies at once");
    });
    const broken = `${cls}-bad`;
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "CopyClass",
      metadata: { name: broken },
      spec: { driver: "embedded", embedded: { dataDir: "/etc/hostname/arraycopy-cannot-live-here" } },
    });
    try {
      await eventually(() => {
        const obj = getObject("copyclass", undefined, broken);
        expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "EngineUnusable" });
        expect(conditionOf(obj, "Stalled")?.status).toBe("True");
      });
      applyYaml({
        apiVersion: "arraycopy.io/v1alpha1",
        kind: "VirtualCopy",
        metadata: { name: "on-bad-class", namespace: ns },
        spec: { copyClassName: broken, source: { volumeName: "m-src" } },
      });
      await eventually(() => {
        const ready = conditionOf(getObject("virtualcopy", ns, "on-bad-class"), "Ready");
        expect(ready).toMatchObject({ status: "False", reason: "ClassUnusable" });
        expect(ready?.message).toContain(broken);
      });
    } finally {
      kubectl(["delete", "copyclass", broken, "--wait=false"]);
    }
  });
});
