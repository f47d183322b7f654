import { describe, expect, it } from "vitest";
import { findCondition, isFalse, isTrue, metaTime, removeCondition, reported, setCondition } from "./conditions.ts";
import type { Condition, ConditionInput } from "./conditions.ts";

const t0 = new Date("2025-01-01T00:00:00.000Z");
const t1 = new Date("2025-01-01T00:05:00.750Z");

function ready(status: Condition["status"], reason = "Created", generation = 1): ConditionInput {
  return { type: "Ready", status, reason, message: `ready is ${status}`, observedGeneration: generation };
}

function existing(): Condition[] {
  return [
    { type: "Synced", status: "True", reason: "Ok", message: "", lastTransitionTime: "2024-12-31T00:00:00Z" },
    { ...ready("False", "Pending"), lastTransitionTime: "2024-12-31T12:00:00Z" },
  ];
}

describe("setCondition", () => {
  const cases: {
    name: string;
    why: string;
    list: Condition[] | undefined;
    input: ConditionInput;
    changed: boolean;
    want: Condition | undefined;
  }[] = [
    {
      name: "new type on an empty status",
      why: "the first reconcile sets the transition time to now",
      list: undefined,
      input: ready("False", "Pending"),
      changed: true,
      want: { ...ready("False", "Pending"), lastTransitionTime: "2025-01-01T00:05:00Z" },
    },
    {
      name: "status flips",
      why: "lastTransitionTime records when the state changed",
      list: existing(),
      input: ready("True"),
      changed: true,
      want: { ...ready("True"), lastTransitionTime: "2025-01-01T00:05:00Z" },
    },
    {
      name: "same status, new reason and message",
      why: "a progress update must not look like a transition",
      list: existing(),
      input: { ...ready("False", "Copying"), message: "50%" },
      changed: true,
      want: { ...ready("False", "Copying"), message: "50%", lastTransitionTime: "2024-12-31T12:00:00Z" },
    },
    {
      name: "same status, new generation",
      why: "observedGeneration follows the spec even when nothing else changes",
      list: existing(),
      input: ready("False", "Pending", 2),
      changed: true,
      want: { ...ready("False", "Pending", 2), lastTransitionTime: "2024-12-31T12:00:00Z" },
    },
    {
      name: "nothing changes",
      why: "an unchanged status is not written (quiet reconciles)",
      list: existing(),
      input: ready("False", "Pending"),
      changed: false,
      want: { ...ready("False", "Pending"), lastTransitionTime: "2024-12-31T12:00:00Z" },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      const before = JSON.stringify(c.list);
      const got = setCondition(c.list, c.input, t1);
      expect(got.changed).toBe(c.changed);
      expect(findCondition(got.conditions, "Ready")).toEqual(c.want);
      expect(JSON.stringify(c.list)).toBe(before);
    });
  }

  it("keeps the position of an updated type and appends a new one", () => {
    const updated = setCondition(existing(), ready("True"), t1).conditions;
    expect(updated.map((c) => c.type)).toEqual(["Synced", "Ready"]);
    const added = setCondition(updated, { type: "Stalled", status: "False", reason: "Ok", message: "" }, t1).conditions;
    expect(added.map((c) => c.type)).toEqual(["Synced", "Ready", "Stalled"]);
    expect(findCondition(added, "Stalled")).not.toHaveProperty("observedGeneration");
  });
});

describe("queries", () => {
  it("isTrue and isFalse read one type; a missing type is neither", () => {
    const list = existing();
    expect(isTrue(list, "Synced")).toBe(true);
    expect(isFalse(list, "Ready")).toBe(true);
    expect(isTrue(list, "Missing")).toBe(false);
    expect(isFalse(undefined, "Missing")).toBe(false);
  });

  it("removeCondition drops one type and says whether anything changed", () => {
    expect(removeCondition(existing(), "Synced").conditions.map((c) => c.type)).toEqual(["Ready"]);
    expect(removeCondition(existing(), "Missing").changed).toBe(false);
  });

  it("reported keeps Reconciling and Stalled only while True, and every other type whatever its status", () => {
    const c = (type: string, status: Condition["status"]): ConditionInput => ({
      type,
      status,
      reason: "R",
      message: "",
    });
    const said = [c("Ready", "False"), c("Reconciling", "False"), c("Stalled", "True"), c("Indications", "False")];
    expect(reported(said).map((x) => `${x.type}=${x.status}`)).toEqual([
      "Ready=False",
      "Stalled=True",
      "Indications=False",
    ]);
    expect(reported([c("Succeeded", "Unknown"), c("Reconciling", "Unknown")]).map((x) => x.type)).toEqual([
      "Succeeded",
    ]);
  });

  it("metaTime drops the milliseconds metav1.Time does not carry", () => {
    expect(metaTime(t0)).toBe("2025-01-01T00:00:00Z");
  });
});
