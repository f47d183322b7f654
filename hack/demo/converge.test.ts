// The demo's and e2e test's choice of what to wait for, from the operator's metrics: a kind is waited for only once
// its controller has reconciled, and the view says why a copy has no status.
import { describe, expect, it } from "vitest";
import { awaitedObjects, reconciledControllers, skippedKinds } from "./converge.ts";
import { renderView } from "./view.ts";

const metrics = [
  "# HELP arraycopy_reconcile_total Reconciles by controller and outcome (done, after, error, terminal).",
  "# TYPE arraycopy_reconcile_total counter",
  'arraycopy_reconcile_total{controller="virtualcopy",outcome="done"} 3',
  'arraycopy_reconcile_total{controller="physicalcopy",outcome="error"} 0',
  'arraycopy_workqueue_depth{controller="copyjob"} 0',
].join("\n");

describe("reconciledControllers", () => {
  it("counts a controller only once it has reconciled (a zero counter or a queue gauge is not proof)", () => {
    expect([...reconciledControllers(metrics)]).toEqual(["virtualcopy"]);
  });
});

describe("awaitedObjects", () => {
  const objects = [
    { kind: "VirtualCopy", name: "snap", namespace: "default" },
    { kind: "PhysicalCopy", name: "clone", namespace: "default" },
    { kind: "CopyJob", name: "resync", namespace: "default" },
    { kind: "PersistentVolume", name: "pv", namespace: undefined },
  ];

  it("waits for kinds whose controller runs, each on its own condition", () => {
    expect(awaitedObjects(objects, new Set(["virtualcopy", "copyjob"]))).toEqual([
      { kind: "VirtualCopy", name: "snap", namespace: "default", condition: "Ready" },
      { kind: "CopyJob", name: "resync", namespace: "default", condition: "Succeeded" },
    ]);
    expect(skippedKinds(new Set(["virtualcopy", "copyjob"]))).toEqual([
      "VirtualCopyGroup",
      "PhysicalCopy",
      "CopySchedule",
    ]);
  });

  it("widens to every copy and job once all controllers run", () => {
    expect(awaitedObjects(objects, new Set(["virtualcopy", "physicalcopy", "copyjob"])).map((o) => o.name)).toEqual([
      "snap",
      "clone",
      "resync",
    ]);
  });
});

describe("renderView", () => {
  it("says when a copy has no status because its controller does not run", () => {
    const text = renderView({
      items: [{ kind: "PhysicalCopy", metadata: { name: "clone", namespace: "default" } }],
      events: [],
      controllers: new Set(["virtualcopy"]),
      at: new Date(0),
    });
    expect(text).toMatch(
      /^PhysicalCopy +default\/clone +- +- +- +- +\(no physicalcopy controller in this operator yet\)$/m,
    );
  });
});
