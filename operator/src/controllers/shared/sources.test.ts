import { describe, expect, it } from "vitest";
import { resolveFromObjects, type ClaimView, type HandleMapping, type VolumeView } from "./sources.ts";

const ownDriver: HandleMapping = { csiDriver: "csi.hpe.com", handles: "ArrayVolumeName", maxNameLength: 31 };

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
    expect(resolveFromObjects("ns", "data", c, v, ownDriver)).toMatchObject(want);
  });

  it("says which claim and what to fix", () => {
    const r = resolveFromObjects("ns", "data", claim(), volume({ csiDriver: "ebs.csi.aws.com" }), ownDriver);
    expect(r.ok ? "" : r.message).toBe(
      "PersistentVolume pv-1 is of CSI driver ebs.csi.aws.com; the CopyClass copies volumes of csi.hpe.com",
    );
  });
});

describe("resolveFromObjects with the HPE 3PAR CSP's handles", () => {
  const hpe: HandleMapping = { csiDriver: "csi.hpe.com", handles: "HPE3PARCSP", maxNameLength: 31 };
  // A PV as external-provisioner and the HPE CSI driver make it: named and handled pvc-<claim uid>.
  const uid = "70d5caf8-7558-40e6-a8b7-77dfcf8ddcd8";
  const hpeClaim = claim({ uid, volumeName: `pvc-${uid}` });
  const hpePv = volume({ claimRef: { namespace: "ns", name: "data", uid }, volumeHandle: `pvc-${uid}` });

  it("derives the array volume and asks for it to be confirmed, naming how it was derived", () => {
    expect(resolveFromObjects("ns", "data", hpeClaim, hpePv, hpe)).toEqual({
      ok: true,
      volume: "pvc-70d5caf8-7558-40e6-a8b7-77d",
      check:
        `PersistentVolume pvc-${uid}'s array volume pvc-70d5caf8-7558-40e6-a8b7-77d ` +
        "(the first 31 characters of its volumeHandle)",
    });
  });

  it("checks the driver and the binding before the handle", () => {
    expect(resolveFromObjects("ns", "data", hpeClaim, { ...hpePv, csiDriver: "csi.arraycopy.io" }, hpe)).toMatchObject({
      ok: false,
      reason: "SourceDriverMismatch",
    });
    expect(resolveFromObjects("ns", "other", hpeClaim, hpePv, hpe)).toMatchObject({
      ok: false,
      reason: "SourceNotBound",
    });
  });

  it("a handle the CSP does not make is SourceDriverMismatch", () => {
    const r = resolveFromObjects("ns", "data", hpeClaim, { ...hpePv, volumeHandle: "7ab3:vol/data" }, hpe);
    expect(r).toMatchObject({ ok: false, reason: "SourceDriverMismatch" });
  });
});
