import { describe, expect, it } from "vitest";
import { addFinalizerPatch, removeFinalizerPatch, withFinalizer, withoutFinalizer } from "./finalizers.ts";
import type { FinalizerMeta, HasMeta, JsonPatchOp } from "./finalizers.ts";

const ours = "arraycopy.io/cleanup";
const theirs = "backup.example.com/protect";

type Modifier = (m: FinalizerMeta) => FinalizerMeta;
const withFinalizers =
  (...f: string[]): Modifier =>
  (m) => ({ ...m, finalizers: f });
const deleting = (): Modifier => (m) => ({ ...m, deletionTimestamp: "2025-01-01T00:00:00Z" });
function object(...mods: Modifier[]): HasMeta & { metadata: FinalizerMeta } {
  return { metadata: mods.reduce<FinalizerMeta>((m, f) => f(m), { resourceVersion: "42" }) };
}

describe("finalizer lists", () => {
  it("adding keeps others in order and never duplicates ours", () => {
    expect(withFinalizer([theirs], ours)).toEqual([theirs, ours]);
    expect(withFinalizer([ours, theirs], ours)).toEqual([ours, theirs]);
    expect(withFinalizer(undefined, ours)).toEqual([ours]);
  });

  it("removing drops only ours", () => {
    expect(withoutFinalizer([theirs, ours, "z"], ours)).toEqual([theirs, "z"]);
    expect(withoutFinalizer(undefined, ours)).toEqual([]);
  });
});

describe("guarded patches", () => {
  const cases: { name: string; why: string; got: () => JsonPatchOp[] | undefined; want: JsonPatchOp[] | undefined }[] =
    [
      {
        name: "add to an object with no finalizers",
        why: "with no list to test, resourceVersion guards against a concurrent writer adding one",
        got: () => addFinalizerPatch(object().metadata, ours),
        want: [
          { op: "test", path: "/metadata/resourceVersion", value: "42" },
          { op: "add", path: "/metadata/finalizers", value: [ours] },
        ],
      },
      {
        name: "add beside another controller's finalizer",
        why: "the test on the whole list fails if theirs changed, so theirs is never dropped",
        got: () => addFinalizerPatch(object(withFinalizers(theirs)).metadata, ours),
        want: [
          { op: "test", path: "/metadata/finalizers", value: [theirs] },
          { op: "replace", path: "/metadata/finalizers", value: [theirs, ours] },
        ],
      },
      {
        name: "add when already present",
        why: "a quiet reconcile makes no write",
        got: () => addFinalizerPatch(object(withFinalizers(ours)).metadata, ours),
        want: undefined,
      },
      {
        name: "remove ours, keep theirs",
        why: "cleanup releases only our hold on the object",
        got: () => removeFinalizerPatch(object(withFinalizers(theirs, ours)).metadata, ours),
        want: [
          { op: "test", path: "/metadata/finalizers", value: [theirs, ours] },
          { op: "replace", path: "/metadata/finalizers", value: [theirs] },
        ],
      },
      {
        name: "remove ours from a deleting object",
        why: "the deletion timestamp changes nothing in the guard: theirs still holds the object",
        got: () => removeFinalizerPatch(object(withFinalizers(ours, theirs), deleting()).metadata, ours),
        want: [
          { op: "test", path: "/metadata/finalizers", value: [ours, theirs] },
          { op: "replace", path: "/metadata/finalizers", value: [theirs] },
        ],
      },
      {
        name: "remove the last one",
        why: "an empty list lets the apiserver finish the deletion",
        got: () => removeFinalizerPatch(object(withFinalizers(ours)).metadata, ours),
        want: [
          { op: "test", path: "/metadata/finalizers", value: [ours] },
          { op: "replace", path: "/metadata/finalizers", value: [] },
        ],
      },
      {
        name: "remove when absent",
        why: "a second cleanup after removal makes no write",
        got: () => removeFinalizerPatch(object(withFinalizers(theirs)).metadata, ours),
        want: undefined,
      },
    ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      expect(c.got()).toEqual(c.want);
    });
  }

  it("refuses to build an unguarded patch", () => {
    expect(() => addFinalizerPatch({}, ours)).toThrow(/cannot guard/);
  });
});
