// How a CSI PersistentVolume names its array volume, per CSI driver family (the class's csiVolumeHandle, else the
// engine's capability). Pure: the facts it rests on are in docs/sources.md.
//
// - ArrayVolumeName (the embedded engine, our own CSI driver): the volumeHandle is the array volume's name.
// - HPE3PARCSP (the HPE CSI driver with its Alletra MP / 9000, Primera and 3PAR CSP): the driver's volumeHandle is
//   the CSP volume's id, which this CSP makes the PV's name, pvc-<uuid> (40 characters); the array volume ("virtual
//   volume") is named by the CSP and recorded in an HPEVolumeInfo of the PV's name (spec.record.Id = the handle,
//   spec.record.Name = the array volume). Without a record, the CSP's documented convention is the handle's first
//   31 characters. Either way the name is a candidate the array must confirm (VolumeResolver checks it).
import type { CsiVolumeHandle } from "../../engine/port.ts";

/** 3PAR / Primera volume names: 1–31 of these characters. */
export const arrayNamePattern = /^[A-Za-z0-9_.-]{1,31}$/;

/** What the CSI driver's PVs are named and handled like: the class's CSI driver and its family's handle rule. */
export interface HandleMapping {
  readonly csiDriver: string;
  readonly handles: CsiVolumeHandle;
  /** The array's longest volume name (the engine's maxNameLength). */
  readonly maxNameLength: number;
}

/** The CSP's record for a PV (HPEVolumeInfo spec.record), when there is one. */
export interface CspRecordView {
  readonly id?: string | undefined;
  readonly name?: string | undefined;
}

export type HandleOutcome =
  /** The array volume's name; `check` (how it was derived) when the array must confirm it before use. */
  | { readonly ok: true; readonly volume: string; readonly check?: string }
  | { readonly ok: false; readonly message: string };

/** A PV name as external-provisioner makes it by default and as the HPE CSP expects: pvc-<UUID>. */
const pvName = /^pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** The array volume a PV's handle names under `mapping`, or why the handle is not one of that driver family's. */
export function arrayVolumeOf(
  pv: string,
  handle: string,
  record: CspRecordView | undefined,
  mapping: HandleMapping,
): HandleOutcome {
  const fits = (n: string): boolean => arrayNamePattern.test(n) && n.length <= mapping.maxNameLength;
  switch (mapping.handles) {
    case "ArrayVolumeName":
      return fits(handle)
        ? { ok: true, volume: handle }
        : { ok: false, message: `${pv} has volumeHandle "${handle}", which is not an array volume name` };
    case "HPE3PARCSP":
      return hpeVolumeOf(pv, handle, record, mapping.maxNameLength, fits);
  }
}

function hpeVolumeOf(
  pv: string,
  handle: string,
  record: CspRecordView | undefined,
  max: number,
  fits: (n: string) => boolean,
): HandleOutcome {
  if (record !== undefined) {
    const { id = "", name = "" } = record;
    if (id !== handle)
      return {
        ok: false,
        message: `${pv} has volumeHandle "${handle}", but HPEVolumeInfo ${handle} records the id "${id}"`,
      };
    if (!fits(name))
      return {
        ok: false,
        message: `HPEVolumeInfo ${handle} (of ${pv}) records the array volume "${name}", not an array volume name`,
      };
    return { ok: true, volume: name, check: `recorded by the HPE CSP in HPEVolumeInfo ${handle}` };
  }
  if (fits(handle)) return { ok: true, volume: handle, check: "its volumeHandle" };
  if (pvName.test(handle))
    return { ok: true, volume: handle.slice(0, max), check: `the first ${max} characters of its volumeHandle` };
  return {
    ok: false,
    message:
      `${pv} has volumeHandle "${handle}"; the HPE CSI driver's 3PAR / Primera / Alletra CSP names a PV's volume ` +
      `pvc-<uuid> (its array volume being the first ${max} characters) or an array volume name, and no ` +
      `HPEVolumeInfo records this one`,
  };
}
