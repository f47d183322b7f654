import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import type { Condition } from "./conditions.ts";
import { StatusWriter, jsonEqual, ownedStatus, type ManagedFieldsEntry, type StatusObject } from "./status.ts";

const manager = "arraycopy-test";

/** managedFields as the apiserver records an Apply of `fields` and condition `types` on /status. */
function applied(by: string, fields: string[], types: string[]): ManagedFieldsEntry {
  const status: Record<string, unknown> = Object.fromEntries(fields.map((f) => [`f:${f}`, {}]));
  if (types.length > 0)
    status["f:conditions"] = Object.fromEntries(types.map((t) => [`k:{"type":"${t}"}`, { ".": {}, "f:status": {} }]));
  return { manager: by, operation: "Apply", subresource: "status", fieldsV1: { "f:status": status } };
}

const ready = (status: Condition["status"], lastTransitionTime: string): Condition => ({
  type: "Ready",
  status,
  reason: status === "True" ? "Created" : "Creating",
  message: "",
  observedGeneration: 1,
  lastTransitionTime,
});

function object(status: Record<string, unknown>, managedFields: ManagedFieldsEntry[]): StatusObject {
  return { metadata: { name: "a", namespace: "ns", managedFields }, status };
}

function writer(clock: FakeClock, bodies: Record<string, unknown>[]): StatusWriter {
  return new StatusWriter({
    target: {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      group: "arraycopy.io",
      version: "v1alpha1",
      plural: "virtualcopies",
    },
    fieldManager: manager,
    clock,
    apply: (_ns, _name, body) => {
      bodies.push(body);
      return Promise.resolve();
    },
  });
}

describe("ownedStatus", () => {
  it("reads fields and condition types of our Apply on /status only", () => {
    const owned = ownedStatus(
      [
        applied(manager, ["syncState", "observedGeneration"], ["Ready"]),
        applied("someone-else", ["copyType"], ["Stalled"]),
        { manager, operation: "Update", subresource: "status", fieldsV1: { "f:status": { "f:phase": {} } } },
      ],
      manager,
    );
    expect([...owned.fields].sort()).toEqual(["observedGeneration", "syncState"]);
    expect([...owned.conditionTypes]).toEqual(["Ready"]);
  });
});

describe("jsonEqual", () => {
  it("ignores key order and undefined members", () => {
    expect(jsonEqual({ a: 1, b: [1, { c: "x" }] }, { b: [1, { c: "x" }], a: 1, d: undefined })).toBe(true);
    expect(jsonEqual({ a: [1, 2] }, { a: [2, 1] })).toBe(false);
  });
});

describe("StatusWriter", () => {
  const t0 = "2025-01-01T00:00:00Z";
  const cases: {
    name: string;
    why: string;
    obj: StatusObject;
    fields: Record<string, unknown>;
    status: Condition["status"];
    writes: boolean;
    transition?: string;
  }[] = [
    {
      name: "unchanged",
      why: "a quiet reconcile costs no API call",
      obj: object({ syncState: "Idle", conditions: [ready("True", t0)] }, [applied(manager, ["syncState"], ["Ready"])]),
      fields: { syncState: "Idle" },
      status: "True",
      writes: false,
      transition: t0,
    },
    {
      name: "field changed",
      why: "new state is written",
      obj: object({ syncState: "ResyncInProgress", conditions: [ready("True", t0)] }, [
        applied(manager, ["syncState"], ["Ready"]),
      ]),
      fields: { syncState: "Idle" },
      status: "True",
      writes: true,
      transition: t0,
    },
    {
      name: "condition flipped",
      why: "the transition time moves only on a flip",
      obj: object({ syncState: "Idle", conditions: [ready("False", t0)] }, [
        applied(manager, ["syncState"], ["Ready"]),
      ]),
      fields: { syncState: "Idle" },
      status: "True",
      writes: true,
      transition: "2025-01-01T01:00:00Z",
    },
    {
      name: "a field we own is dropped",
      why: "SSA removes it only if we apply without it",
      obj: object({ syncState: "Idle", copyType: "UnSyncAssoc", conditions: [ready("True", t0)] }, [
        applied(manager, ["syncState", "copyType"], ["Ready"]),
      ]),
      fields: { syncState: "Idle" },
      status: "True",
      writes: true,
      transition: t0,
    },
    {
      name: "same values set by another manager",
      why: "we must still take ownership",
      obj: object({ syncState: "Idle", conditions: [ready("True", t0)] }, [
        applied("kubectl", ["syncState"], ["Ready"]),
      ]),
      fields: { syncState: "Idle" },
      status: "True",
      writes: true,
      transition: t0,
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, async () => {
      const clock = new FakeClock(Date.parse("2025-01-01T01:00:00Z"));
      const bodies: Record<string, unknown>[] = [];
      const res = await writer(clock, bodies).write(c.obj, {
        fields: c.fields,
        conditions: [
          {
            type: "Ready",
            status: c.status,
            reason: c.status === "True" ? "Created" : "Creating",
            message: "",
            observedGeneration: 1,
          },
        ],
      });
      expect(res.written).toBe(c.writes);
      expect(bodies).toHaveLength(c.writes ? 1 : 0);
      expect(res.applied["conditions"]).toEqual([ready(c.status, c.transition ?? "")]);
      if (c.writes) {
        expect(bodies[0]).toMatchObject({
          apiVersion: "arraycopy.io/v1alpha1",
          kind: "VirtualCopy",
          metadata: { name: "a", namespace: "ns" },
        });
      }
    });
  }

  describe("Reconciling and Stalled are written only while True", () => {
    const health = (reconciling: Condition["status"], stalled: Condition["status"]) => [
      { type: "Ready", status: "False" as const, reason: "Creating", message: "", observedGeneration: 1 },
      { type: "Reconciling", status: reconciling, reason: "Creating", message: "", observedGeneration: 1 },
      { type: "Stalled", status: stalled, reason: "Creating", message: "", observedGeneration: 1 },
    ];
    const typesOf = (v: unknown): string[] => (Array.isArray(v) ? v.map((c: Condition) => c.type) : []);

    it("a False one is left out of the apply", async () => {
      const bodies: Record<string, unknown>[] = [];
      const res = await writer(new FakeClock(Date.parse(t0)), bodies).write(object({}, []), {
        fields: { syncState: "Initialized" },
        conditions: health("True", "False"),
      });
      expect(res.written).toBe(true);
      expect(typesOf(res.applied["conditions"])).toEqual(["Ready", "Reconciling"]);
      expect(typesOf((bodies[0]?.["status"] as Record<string, unknown>)["conditions"])).toEqual([
        "Ready",
        "Reconciling",
      ]);
    });

    it("one that turns False is removed by an apply without it, and then nothing is written", async () => {
      const clock = new FakeClock(Date.parse("2025-01-01T01:00:00Z"));
      const was = (type: string, status: Condition["status"]): Condition => ({
        type,
        status,
        reason: "Creating",
        message: "",
        observedGeneration: 1,
        lastTransitionTime: t0,
      });
      const working = object(
        { syncState: "Initialized", conditions: [was("Ready", "False"), was("Reconciling", "True")] },
        [applied(manager, ["syncState"], ["Ready", "Reconciling"])],
      );
      const bodies: Record<string, unknown>[] = [];
      const w = writer(clock, bodies);
      const res = await w.write(working, { fields: { syncState: "Initialized" }, conditions: health("False", "True") });
      expect(res.written).toBe(true);
      expect(typesOf(res.applied["conditions"])).toEqual(["Ready", "Stalled"]);

      const stalled = object(
        { syncState: "Initialized", conditions: [was("Ready", "False"), was("Stalled", "True")] },
        [applied(manager, ["syncState"], ["Ready", "Stalled"])],
      );
      const again = await w.write(stalled, {
        fields: { syncState: "Initialized" },
        conditions: health("False", "True"),
      });
      expect(again.written).toBe(false);
      expect(bodies).toHaveLength(1);
    });
  });
});
