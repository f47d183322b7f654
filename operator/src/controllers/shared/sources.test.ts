import { describe, expect, it } from "vitest";
import { resolveFromObjects, type ClaimView, type VolumeView } from "./sources.ts";

const claim = (m: Partial<ClaimView> = {}): ClaimView => ({ uid: "u1", volumeName: "pv-1", ...m });
const volume = (m: Partial<VolumeView> = {}): VolumeView => ({
  claimRef: { namespace: "ns", name: "data", uid: "u1" },
  csiDriver: "csi.hpe.com",
  volumeHandle: "data-vol",
  ...m,
});

describe("resolveFromObjects", () => {
  it.each([
    ["a bound claim of the class's driver names its array volume", claim(), volume(), { ok: true, volume: "data-vol" }],
    ["a missing claim is SourceNotFound", undefined, undefined, { ok: false, reason: "SourceNotFound" }],
    [
      "a claim with no volume yet is SourceNotBound",
      claim({ volumeName: "" }),
      undefined,
      { ok: false, reason: "SourceNotBound" },
    ],
    ["a claim whose PV is gone is SourceNotFound", claim(), undefined, { ok: false, reason: "SourceNotFound" }],
    [
      "a PV bound to another claim is SourceNotBound",
      claim(),
      volume({ claimRef: { namespace: "ns", name: "other" } }),
      { ok: false, reason: "SourceNotBound" },
    ],
    [
      "a PV bound to an earlier claim of the same name is SourceNotBound",
      claim(),
      volume({ claimRef: { namespace: "ns", name: "data", uid: "old" } }),
      { ok: false, reason: "SourceNotBound" },
    ],
    [
      "a PV of another CSI driver is SourceDriverMismatch",
      claim(),
      volume({ csiDriver: "ebs.csi.aws.com" }),
      { ok: false, reason: "SourceDriverMismatch" },
    ],
    [
      "a non-CSI PV is SourceDriverMismatch",
      claim(),
      volume({ csiDriver: undefined }),
      { ok: false, reason: "SourceDriverMismatch" },
    ],
    [
      "a handle the array cannot hold is SourceDriverMismatch",
      claim(),
      volume({ volumeHandle: "7ab3:vol/data" }),
      { ok: false, reason: "SourceDriverMismatch" },
    ],
  ] as const)("%s", (_why, c, v, want) => {
    expect(resolveFromObjects("ns", "data", c, v, "csi.hpe.com")).toMatchObject(want);
  });

  it("says which claim and what to fix", () => {
    const r = resolveFromObjects("ns", "data", claim(), volume({ csiDriver: "ebs.csi.aws.com" }), "csi.hpe.com");
    expect(r.ok ? "" : r.message).toBe(
      "PersistentVolume pv-1 is of CSI driver ebs.csi.aws.com; the CopyClass copies volumes of csi.hpe.com",
    );
  });
});
