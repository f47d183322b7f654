import { describe, expect, it } from "vitest";
import { leaderLabelOps } from "./leader-label.ts";

describe("leaderLabelOps", () => {
  it("adds the label map when the pod has no labels, guarded by the resourceVersion read", () => {
    expect(leaderLabelOps(undefined, "7", true)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/metadata/labels", value: { "arraycopy.io/leader": "true" } },
    ]);
  });

  it("adds the one key beside other labels, escaping the slash", () => {
    expect(leaderLabelOps({ app: "x" }, "7", true)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "7" },
      { op: "add", path: "/metadata/labels/arraycopy.io~1leader", value: "true" },
    ]);
  });

  it("removes it when not leading, and does nothing when the pod is as wanted", () => {
    expect(leaderLabelOps({ "arraycopy.io/leader": "true" }, "9", false)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "9" },
      { op: "remove", path: "/metadata/labels/arraycopy.io~1leader" },
    ]);
    expect(leaderLabelOps({ app: "x" }, "9", false)).toBeUndefined();
    expect(leaderLabelOps({ "arraycopy.io/leader": "true" }, "9", true)).toBeUndefined();
  });

  it("replaces a value other than true rather than leave a label the Service does not select", () => {
    expect(leaderLabelOps({ "arraycopy.io/leader": "false" }, "3", true)).toEqual([
      { op: "test", path: "/metadata/resourceVersion", value: "3" },
      { op: "add", path: "/metadata/labels/arraycopy.io~1leader", value: "true" },
    ]);
  });
});
