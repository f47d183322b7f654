// Array-side names and owner tags. Names derive from the resource's UID so a retry, a crash or a second operator
// replica always asks for the same array object, and fit the array's 31-character limit.
import type { CopyObservation, OwnerTag } from "../../engine/port.ts";
import type { Meta } from "./objects.ts";

/** `<prefix>-` and the first 24 hex digits of the UID (96 bits): 27 characters, letters, digits and '-'. */
/** `cl` names the populator's array clone for a PVC (from the PVC's UID). */
export function arrayName(prefix: "vc" | "pc" | "cl", uid: string): string {
  const hex = uid.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
  if (hex.length < 24) throw new Error(`cannot derive an array name: uid ${uid} is too short`);
  return `${prefix}-${hex.slice(0, 24)}`;
}

/**
 * The prefix of a group's member copies: `vg-`, the first 22 hex digits of the UID (88 bits) and `-`, 26
 * characters; member i is the prefix and i, at most 28 characters for the 64 members a group takes.
 */
export function groupNamePrefix(uid: string): string {
  const hex = uid.replace(/[^0-9a-fA-F]/g, "").toLowerCase();
  if (hex.length < 22) throw new Error(`cannot derive an array name: uid ${uid} is too short`);
  return `vg-${hex.slice(0, 22)}-`;
}

export function ownerTag(meta: Meta): OwnerTag {
  return { namespace: meta.namespace ?? "", name: meta.name, uid: meta.uid };
}

/**
 * The array object under our name, if its owner tag says it is ours. Another owner's object under the same name
 * is never adopted (it would show as our copy) nor deleted with our resource: to us the name is taken, and the
 * array says so (EXISTENT_VOL) when we ask to create it.
 */
export function ownObservation(observed: CopyObservation | undefined, uid: string): CopyObservation | undefined {
  return observed?.owner.uid === uid ? observed : undefined;
}
