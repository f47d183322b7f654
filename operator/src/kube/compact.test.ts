import { describe, expect, it } from "vitest";
import { StringInterner, compactObject, lastAppliedAnnotation, type CompactOptions } from "./compact.ts";
import { isStatusApply, ownedStatus } from "./status.ts";

const ours = "arraycopy-virtualcopy";

function options(interner = new StringInterner()): CompactOptions {
  return { interner, keepManagedFields: (e) => isStatusApply(e) && (e.manager?.startsWith("arraycopy-") ?? false) };
}

/** A VirtualCopy as the apiserver sends it, with a client's Update entry and our status Apply entry. */
function apiObject(name: string, annotations?: Record<string, string>) {
  const conditionFields = {
    ".": {},
    "f:lastTransitionTime": {},
    "f:message": {},
    "f:reason": {},
    "f:status": {},
    "f:type": {},
  };
  return JSON.parse(
    JSON.stringify({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: {
        name,
        namespace: "team-a",
        uid: `uid-${name}`,
        resourceVersion: "42",
        generation: 1,
        creationTimestamp: "2026-11-24T04:27:29Z",
        ...(annotations === undefined ? {} : { annotations }),
        managedFields: [
          {
            manager: "kubectl-client-side-apply",
            operation: "Update",
            apiVersion: "arraycopy.io/v1alpha1",
            time: "2026-11-24T04:27:29Z",
            fieldsType: "FieldsV1",
            fieldsV1: { "f:spec": { ".": {}, "f:copyClassName": {} } },
          },
          {
            manager: ours,
            operation: "Apply",
            subresource: "status",
            apiVersion: "arraycopy.io/v1alpha1",
            time: "2026-11-24T04:27:59Z",
            fieldsType: "FieldsV1",
            fieldsV1: {
              "f:status": {
                "f:observedGeneration": {},
                "f:syncState": {},
                "f:conditions": { 'k:{"type":"Ready"}': conditionFields, 'k:{"type":"Stalled"}': conditionFields },
              },
            },
          },
          {
            manager: "someone-else",
            operation: "Apply",
            subresource: "status",
            fieldsV1: { "f:status": { "f:note": {} } },
          },
        ],
      },
      spec: { copyClassName: "gold", source: { volumeName: "db" } },
      status: {
        observedGeneration: 1,
        syncState: "Synchronized",
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "Synchronized",
            message: "ready",
            lastTransitionTime: "2026-11-24T04:27:59Z",
          },
        ],
      },
    }),
  ) as Record<string, unknown> & { metadata: Record<string, unknown> };
}

describe("compactObject", () => {
  it("keeps only the managedFields entries the predicate accepts, and what the status writer reads of them", () => {
    const before = apiObject("a");
    const ownedBefore = ownedStatus(before.metadata["managedFields"] as never, ours);
    const after = compactObject(apiObject("a"), options()) as typeof before;
    const entries = after.metadata["managedFields"] as { manager: string }[];
    expect(entries.map((e) => e.manager)).toEqual([ours]);
    expect(ownedStatus(entries, ours)).toEqual(ownedBefore);
    expect(ownedBefore.fields).toEqual(new Set(["observedGeneration", "syncState"]));
    expect(ownedBefore.conditionTypes).toEqual(new Set(["Ready", "Stalled"]));
  });

  it("judges each entry by manager, operation and subresource, before its field tree is copied", () => {
    const judged: unknown[] = [];
    const opts: CompactOptions = {
      interner: new StringInterner(),
      keepManagedFields: (e) => {
        judged.push(e);
        return e.manager === ours;
      },
    };
    const obj = apiObject("vc-judged");
    const entries = (obj.metadata["managedFields"] as unknown[]).length;
    const compacted = compactObject(obj, opts) as typeof obj;
    expect(judged).toHaveLength(entries);
    for (const e of judged) expect(Object.keys(e as object).sort()).toEqual(["manager", "operation", "subresource"]);
    const kept = compacted.metadata["managedFields"] as { manager: string; fieldsV1: object }[];
    expect(kept.map((e) => [e.manager, Object.keys(e.fieldsV1)])).toEqual([[ours, ["f:status"]]]);
  });

  it("drops managedFields entirely when no entry is ours", () => {
    const obj = apiObject("a");
    (obj.metadata["managedFields"] as unknown[]).splice(1, 1);
    const after = compactObject(obj, options()) as typeof obj;
    expect("managedFields" in after.metadata).toBe(false);
  });

  it("changes no value the controllers read: spec, status, name, namespace, uid, generation, annotations", () => {
    const before = apiObject("a", { "arraycopy.io/create-intent": "2026-11-24T04:27:30Z" });
    const after = compactObject(
      apiObject("a", { "arraycopy.io/create-intent": "2026-11-24T04:27:30Z" }),
      options(),
    ) as typeof before;
    const { managedFields: _a, ...metaBefore } = before.metadata;
    const { managedFields: _b, ...metaAfter } = after.metadata;
    expect(metaAfter).toEqual(metaBefore);
    expect(after["spec"]).toEqual(before["spec"]);
    expect(after["status"]).toEqual(before["status"]);
  });

  it("drops kubectl's last-applied annotation but keeps the annotations map, even empty", () => {
    const after = compactObject(
      apiObject("a", { [lastAppliedAnnotation]: '{"big":"copy of the spec"}' }),
      options(),
    ) as ReturnType<typeof apiObject>;
    expect(after.metadata["annotations"]).toEqual({});
    const withOthers = compactObject(
      apiObject("b", { [lastAppliedAnnotation]: "{}", keep: "me" }),
      options(),
    ) as ReturnType<typeof apiObject>;
    expect(withOthers.metadata["annotations"]).toEqual({ keep: "me" });
  });

  it("shares one string instance between objects for repeated values, never for per-object identities", () => {
    const interner = new StringInterner();
    compactObject(apiObject("a"), options(interner));
    const sizeAfterOne = interner.size;
    compactObject(apiObject("b"), options(interner));
    compactObject(apiObject("c"), options(interner));
    // Names, uids and resourceVersions are not interned, so equal-shaped objects add nothing to the table.
    expect(interner.size).toBe(sizeAfterOne);
    expect(sizeAfterOne).toBeGreaterThan(5);
  });

  it("passes non-objects through", () => {
    expect(compactObject("x", options())).toBe("x");
    expect(compactObject(null, options())).toBe(null);
  });
});

describe("StringInterner", () => {
  it("keeps one entry per distinct value (equal strings built apart share it)", () => {
    // Strings compare by value in JS, so instance identity cannot be asserted here; the heap figures in
    // docs/benchmarks.md show the sharing. What is asserted: equal values occupy one table entry.
    const i = new StringInterner();
    i.intern(["Synchron", "ized"].join(""));
    i.intern(["Synch", "ronized"].join(""));
    expect(i.size).toBe(1);
    expect(i.intern("Synchronized")).toBe("Synchronized");
  });

  it("is bounded: when full it starts over, and long strings are never kept", () => {
    const i = new StringInterner({ maxEntries: 3, maxLength: 8 });
    for (const s of ["a", "b", "c"]) i.intern(s);
    expect(i.size).toBe(3);
    i.intern("d");
    expect(i.size).toBe(1);
    i.intern("longer than eight");
    expect(i.size).toBe(1);
  });
});
