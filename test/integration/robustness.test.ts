// The operator under faults and restarts, on the real apiserver: engine calls that fail (unavailable, busy) or
// time out after being applied converge with no array object leaked or duplicated; a restarted operator adopts
// the array task its predecessor started; of two replicas one leads and a clean stop hands over.
import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";
import { FaultyEngine, eachCallFailsOnce } from "../support/faulty-engine.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  getObject,
  startOperator,
  waitForCondition,
  type ConditionView,
} from "../support/operator.ts";

const api = "arraycopy.io/v1alpha1";
const size = 4 << 20;
let ns: string;
const classes: string[] = [];

interface Obj {
  metadata: { name: string };
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

const newClass = () => {
  const name = `rb-${Math.random().toString(36).slice(2, 7)}`;
  classes.push(name);
  applyYaml(embeddedClass(name));
  return name;
};
const vc = (cls: string, name: string, volume: string) => ({
  apiVersion: api,
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, source: { volumeName: volume } },
});
const pc = (cls: string, name: string, target: Record<string, unknown>, saveSnapshot = true) => ({
  apiVersion: api,
  kind: "PhysicalCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, source: { volumeName: "src" }, target, saveSnapshot },
});
const condition = (kind: string, name: string, type: string, status: "True" | "False" = "True", timeoutMs = 90_000) =>
  waitForCondition<Obj>(kind, ns, name, type, { status, timeoutMs, intervalMs: 250 });

beforeAll(() => {
  installCrds();
  ns = freshNamespace("rb");
});

afterAll(() => {
  for (const c of classes) kubectl(["delete", "copyclass", c, "--wait=false"]);
});

describe("faults at every engine call", () => {
  it("converge with no array object leaked or duplicated", async () => {
    const cls = newClass();
    const faults: FaultyEngine[] = [];
    const op = startOperator([], {
      wrap: (e) => {
        const f = new FaultyEngine(e, eachCallFailsOnce());
        faults.push(f);
        return f.engine();
      },
    });
    try {
      const engine = await op.engine(cls);
      await engine.volumes.createVolume("src", size);
      await engine.volumes.writeVolume("src", 0, randomBytes(size));
      for (const t of ["t1", "t2"]) await engine.volumes.createVolume(t, size);
      const vcs = ["f1", "f2", "f3", "f4"];
      applyYaml(
        ...vcs.map((n) => vc(cls, n, "src")),
        pc(cls, "p1", { volumeName: "t1" }),
        pc(cls, "p2", { volumeName: "t2" }),
        pc(cls, "p3", { create: {} }, false),
      );
      for (const n of vcs) await condition("virtualcopy", n, "Ready");
      for (const n of ["p1", "p2", "p3"]) await condition("physicalcopy", n, "Ready");
      applyYaml(
        ...["p1", "p2"].map((n) => ({
          apiVersion: api,
          kind: "CopyJob",
          metadata: { name: `${n}-resync`, namespace: ns },
          spec: { copyRef: { kind: "PhysicalCopy", name: n }, operation: "Resync" },
        })),
      );
      for (const n of ["p1", "p2"]) await condition("copyjob", `${n}-resync`, "Succeeded");

      const injected = faults.flatMap((f) => [...f.injected.keys()]);
      for (const m of [
        "createVirtualCopy:timeout-after-apply",
        "createPhysicalCopy:timeout-after-apply",
        "startJob:timeout-after-apply",
        "createVirtualCopy:busy",
        "observeCopy:unavailable",
      ]) {
        expect(injected, `fault ${m} was injected`).toContain(m);
      }
      // One array object per resource: the copies the engine holds are exactly ours, none twice.
      const copies = await engine.listCopies();
      const owned = copies
        .filter((c) => c.owner.namespace === ns)
        .map((c) => c.owner.name)
        .sort();
      expect(owned).toEqual(["f1", "f2", "f3", "f4", "p1", "p2", "p3"]);
      // Each resync ran once: the copy's last task is the one its CopyJob recorded.
      for (const n of ["p1", "p2"]) {
        const job = getObject<Obj>("copyjob", ns, `${n}-resync`);
        const target = String(getObject<Obj>("physicalcopy", ns, n)?.status?.targetVolume);
        expect((await engine.observeCopy(target))?.lastJob).toBe(job?.status?.arrayJobId);
      }

      await kubectlAsyncOk(["delete", "virtualcopies,physicalcopies", "--all", "-n", ns, "--timeout=120s"]);
      expect(faults.flatMap((f) => [...f.injected.keys()])).toContain("deleteCopy:timeout-after-apply");
      const left = (await engine.listCopies()).filter(
        (c) => c.owner.namespace === ns && c.synchronization !== undefined,
      );
      expect(left.map((c) => c.name)).toEqual([]);
      expect((await engine.listCopies()).filter((c) => c.kind === "Virtual" && c.owner.namespace === ns)).toEqual([]);
    } finally {
      await op.stop();
    }
  });
});

describe("restart", () => {
  it("adopts the array task a stopped operator started, and starts no second one", async () => {
    const cls = newClass();
    const dataRegistry = new EngineRegistry({
      dataDir: (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/rb-restart-`),
    });
    // The first operator starts the copy but never sees it finish: its observations of tasks fail.
    const blind = startOperator([], {
      registry: dataRegistry,
      wrap: (e) => new FaultyEngine(e, (m) => (m === "observeJob" ? "unavailable" : undefined)).engine(),
    });
    const engine = await blind.engine(cls);
    await engine.volumes.createVolume("src", size);
    await engine.volumes.writeVolume("src", 0, randomBytes(size));
    await engine.volumes.createVolume("adopt-target", size);
    applyYaml(pc(cls, "adopted", { volumeName: "adopt-target" }));
    const started = await eventually(
      () => {
        const job = getObject<Obj>("copyjob", ns, "adopted-copy");
        expect(job?.status?.arrayJobId).toBeTypeOf("string");
        return job as Obj;
      },
      60_000,
      100,
    );
    expect(conditionOf(started, "Succeeded")?.status).toBe("Unknown");
    await blind.stop(true);

    const second = startOperator([], { registry: dataRegistry });
    try {
      const done = await condition("copyjob", "adopted-copy", "Succeeded");
      expect(done.status?.arrayJobId).toBe(started.status?.arrayJobId);
      await condition("physicalcopy", "adopted", "Ready");
      expect((await engine.observeCopy("adopt-target"))?.lastJob).toBe(started.status?.arrayJobId);
    } finally {
      await second.stop();
    }
  });
});

describe("two replicas", () => {
  it("one leads; a clean stop hands over within the lease duration", async () => {
    const cls = newClass();
    const registry = new EngineRegistry({
      dataDir: (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/rb-ha-`),
    });
    const args = (id: string) => [
      "--leader-elect",
      "true",
      "--lease-namespace",
      ns,
      "--lease-name",
      "arraycopy-ha",
      "--identity",
      id,
    ];
    const a = startOperator(args("replica-a"), { registry });
    const b = startOperator(args("replica-b"), { registry });
    const holder = () => kubectlOk(["get", "lease", "arraycopy-ha", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"]);
    const leaderGauge = async (op: typeof a) => {
      const text = await (await fetch(`http://127.0.0.1:${String(await op.metricsPort)}/metrics`)).text();
      return /^arraycopy_leader (\d)/m.exec(text)?.[1];
    };
    try {
      const first = await eventually(
        () => {
          const h = holder();
          expect(["replica-a", "replica-b"]).toContain(h);
          return h;
        },
        30_000,
        200,
      );
      const [leader, standby] = first === "replica-a" ? [a, b] : [b, a];
      expect(await leaderGauge(leader)).toBe("1");
      expect(await leaderGauge(standby)).toBe("0");
      const engine = await a.engine(cls);
      await engine.volumes.createVolume("ha-src", size);
      applyYaml(vc(cls, "ha-1", "ha-src"));
      await condition("virtualcopy", "ha-1", "Ready");

      await leader.stop(true);
      await eventually(
        () => {
          expect(holder()).toBe(first === "replica-a" ? "replica-b" : "replica-a");
        },
        20_000,
        200,
      );
      applyYaml(vc(cls, "ha-2", "ha-src"));
      await condition("virtualcopy", "ha-2", "Ready");
      expect(await leaderGauge(standby)).toBe("1");
    } finally {
      await a.stop(true);
      await b.stop(true);
      await registry.close();
    }
  });

  // The chart's cim-listener Service selects arraycopy.io/leader=true. The replicas' pods are Pod objects here (no
  // kubelet runs them): what is checked is which of them carries the label, as a Service's EndpointSlice would see.
  it("the leader's pod alone carries arraycopy.io/leader, and the label moves with the Lease", async () => {
    const pod = (name: string, labels?: Record<string, string>) => ({
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name, namespace: ns, ...(labels === undefined ? {} : { labels }) },
      spec: { containers: [{ name: "operator", image: "localhost/arraycopy/operator:dev" }] },
    });
    // replica-b's pod still has the label an earlier container left (SIGKILLed while it led); replica-a's has no
    // labels at all.
    applyYaml(pod("replica-a"), pod("replica-b", { app: "arraycopy", "arraycopy.io/leader": "true" }));
    const labelled = () =>
      kubectlOk(["get", "pods", "-n", ns, "-l", "arraycopy.io/leader=true", "-o", "jsonpath={.items[*].metadata.name}"])
        .split(" ")
        .filter(Boolean);
    const registry = new EngineRegistry({
      dataDir: (await import("node:fs")).mkdtempSync(`${(await import("node:os")).tmpdir()}/rb-label-`),
    });
    const args = (id: string) => [
      ...["--leader-elect", "true", "--lease-namespace", ns, "--lease-name", "arraycopy-label"],
      ...["--identity", id, "--label-leader-pod", "true"],
    ];
    const a = startOperator(args("replica-a"), { registry });
    let b: ReturnType<typeof startOperator> | undefined;
    try {
      await eventually(() => {
        expect(labelled()).toEqual(["replica-a", "replica-b"]);
      }, 30_000);
      // replica-b starts as a standby and takes its stale label off.
      b = startOperator(args("replica-b"), { registry });
      await eventually(() => {
        expect(labelled()).toEqual(["replica-a"]);
      }, 30_000);
      // The leader's clean stop takes its label off before it exits; the standby leads and labels its pod.
      await a.stop(true);
      expect(labelled()).not.toContain("replica-a");
      await eventually(() => {
        expect(labelled()).toEqual(["replica-b"]);
      }, 30_000);
      expect(kubectlOk(["get", "pod", "replica-b", "-n", ns, "-o", "jsonpath={.metadata.labels.app}"])).toBe(
        "arraycopy",
      );
      await b.stop(true);
      b = undefined;
      expect(labelled()).toEqual([]);
    } finally {
      await a.stop(true);
      await b?.stop(true);
      await registry.close();
    }
  });
});
