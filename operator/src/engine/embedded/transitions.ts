// The SyncState machine of DOMAIN.md §2.3, as data: every change the engine makes to a copy's SyncState goes
// through move(), which refuses a transition the array's tables do not have, so the engine cannot drift from them.
// "gone" is the association disappearing (an UnSyncUnAssoc copy finishing, a halt, a detach).
import { EngineError } from "../errors.ts";
import type { CopyKind, SyncState } from "../port.ts";

export type SyncTarget = SyncState | "gone";

const physical: readonly (readonly [SyncState | "none", SyncTarget])[] = [
  ["none", "Initialized"], // task queued
  ["Initialized", "ResyncInProgress"], // initial copy starts
  ["Initialized", "gone"], // halted while queued
  ["ResyncInProgress", "Frozen"], // initial copy or resync done (UnSyncAssoc)
  ["ResyncInProgress", "gone"], // done (UnSyncUnAssoc), or halted
  ["ResyncInProgress", "Broken"], // failed
  ["Frozen", "ResyncInProgress"], // resync
  ["Frozen", "CopyInProgress"], // start copy
  ["Broken", "CopyInProgress"], // start copy recopies everything, so it may repair a broken copy
  ["CopyInProgress", "Frozen"],
  ["CopyInProgress", "Broken"],
  ["CopyInProgress", "gone"], // halted
  ["Frozen", "gone"], // detach
  ["Broken", "gone"], // detach of a failed copy
  ["Initialized", "Broken"], // the engine lost a queued copy's point in time
];

const virtual: readonly (readonly [SyncState | "none", SyncTarget])[] = [
  ["none", "ResyncInProgress"],
  ["ResyncInProgress", "Idle"],
  ["ResyncInProgress", "Broken"],
  ["Idle", "RestoreInProgress"],
  ["Broken", "RestoreInProgress"], // a new promote clears a halted one (cpf)
  ["RestoreInProgress", "Idle"],
  ["RestoreInProgress", "Broken"], // failed or halted
];

export function allowed(kind: CopyKind, from: SyncState | "none", to: SyncTarget): boolean {
  return (kind === "Physical" ? physical : virtual).some(([a, b]) => a === from && b === to);
}

export function move(kind: CopyKind, from: SyncState | "none", to: SyncTarget): SyncTarget {
  if (!allowed(kind, from, to)) {
    throw new EngineError(`internal: ${kind.toLowerCase()} copy cannot go from ${from} to ${to}`, { code: "Internal" });
  }
  return to;
}
