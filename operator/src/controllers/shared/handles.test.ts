// The handle rules against PVs shaped as the drivers make them (docs/sources.md has where each shape is from).
import { describe, expect, it } from "vitest";
import { arrayVolumeOf, type HandleMapping } from "./handles.ts";

const hpe: HandleMapping = { csiDriver: "csi.hpe.com", handles: "HPE3PARCSP", maxNameLength: 31 };
const own: HandleMapping = { csiDriver: "csi.arraycopy.io", handles: "ArrayVolumeName", maxNameLength: 31 };

// A PV external-provisioner named for its claim's UID; the HPE driver's handle is the CSP's id, the same string.
const dynamic = "pvc-70d5caf8-7558-40e6-a8b7-77dfcf8ddcd8";
// scod's static-provisioning example: the HPEVolumeInfo records Id = the PV's name, Name = the array volume.
const staticPv = "pvc-00000000-0000-0000-0000-000000000000";
// What the Nimble / Alletra 6000 CSP answers as a volume id (another CSP of the same CSI driver).
const nimbleId = "063aba3d50ec99d866000000000000000000000001";

describe("arrayVolumeOf", () => {
  it.each([
    {
      why: "HPE 3PAR CSP, dynamic PV, no record: the handle's first 31 characters, to be confirmed on the array",
      handle: dynamic,
      record: undefined,
      mapping: hpe,
      want: {
        ok: true,
        volume: "pvc-70d5caf8-7558-40e6-a8b7-77d",
        check: "the first 31 characters of its volumeHandle",
      },
    },
    {
      why: "HPE 3PAR CSP, a record names the array volume: the record wins over the truncation",
      handle: staticPv,
      record: { id: staticPv, name: "pvc-00000000-0000-0000-0000-000" },
      mapping: hpe,
      want: {
        ok: true,
        volume: "pvc-00000000-0000-0000-0000-000",
        check: `recorded by the HPE CSP in HPEVolumeInfo ${staticPv}`,
      },
    },
    {
      why: "HPE 3PAR CSP, a record naming a volume that is not the truncation (renamed by an administrator)",
      handle: dynamic,
      record: { id: dynamic, name: "db-prod.0" },
      mapping: hpe,
      want: { ok: true, volume: "db-prod.0" },
    },
    {
      why: "HPE 3PAR CSP, a record for the handle with another id is refused rather than guessed past",
      handle: dynamic,
      record: { id: "pvc-11111111-0000-0000-0000-000000000000", name: "pvc-11111111-0000-0000-0000-000" },
      mapping: hpe,
      want: { ok: false },
    },
    {
      why: "HPE 3PAR CSP, a record whose name the array cannot hold is refused",
      handle: dynamic,
      record: { id: dynamic, name: "" },
      mapping: hpe,
      want: { ok: false },
    },
    {
      why: "HPE 3PAR CSP, a short handle that is an array name is taken as is, still to be confirmed",
      handle: "legacy-vol",
      record: undefined,
      mapping: hpe,
      want: { ok: true, volume: "legacy-vol", check: "its volumeHandle" },
    },
    {
      why: "HPE 3PAR CSP class on a Nimble-style id (42 hex digits): not this CSP's shape, refused",
      handle: nimbleId,
      record: undefined,
      mapping: hpe,
      want: { ok: false },
    },
    {
      why: "HPE 3PAR CSP, a long handle not of the pvc-<uuid> shape is not truncated",
      handle: "pvc-70d5caf8-7558-40e6-a8b7-77dfcf8ddcd8-extra",
      record: undefined,
      mapping: hpe,
      want: { ok: false },
    },
    {
      why: "array-name rule (our own CSI driver): the handle is the array volume, nothing to confirm",
      handle: "data-vol",
      record: undefined,
      mapping: own,
      want: { ok: true, volume: "data-vol" },
    },
    {
      why: "array-name rule on an HPE-style 40-character handle: refused as before, never truncated",
      handle: dynamic,
      record: undefined,
      mapping: own,
      want: { ok: false },
    },
    {
      why: "an engine with shorter names: the truncation follows its maxNameLength",
      handle: dynamic,
      record: undefined,
      mapping: { ...hpe, maxNameLength: 20 },
      want: { ok: true, volume: "pvc-70d5caf8-7558-40" },
    },
  ])("$why", ({ handle, record, mapping, want }) => {
    const got = arrayVolumeOf("PersistentVolume pv", handle, record, mapping);
    expect(got).toMatchObject(want);
    if (want.ok && !("check" in want) && mapping.handles === "ArrayVolumeName") expect(got).not.toHaveProperty("check");
  });

  it("says what the HPE CSP's PVs look like when the handle is not one", () => {
    const got = arrayVolumeOf("PersistentVolume pv", nimbleId, undefined, hpe);
    expect(got.ok ? "" : got.message).toBe(
      `PersistentVolume pv has volumeHandle "${nimbleId}"; the HPE CSI driver's 3PAR / Primera / Alletra CSP names ` +
        "a PV's volume pvc-<uuid> (its array volume being the first 31 characters) or an array volume name, and no " +
        "HPEVolumeInfo records this one",
    );
  });

  it("says which record disagrees with the handle", () => {
    const got = arrayVolumeOf("PersistentVolume pv", dynamic, { id: "other" }, hpe);
    expect(got.ok ? "" : got.message).toBe(
      `PersistentVolume pv has volumeHandle "${dynamic}", but HPEVolumeInfo ${dynamic} records the id "other"`,
    );
  });
});
