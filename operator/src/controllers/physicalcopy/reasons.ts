// The closed sets of reasons a PhysicalCopy shows: on its conditions (CamelCase, as metav1.Condition wants, and
// documented in docs/status.md) and on its Events.
import { arrayReasons, classReasons, deletionReasons, sourceReasons } from "../shared/reasons.ts";
import type { SourceReason } from "../shared/sources.ts";

export const physicalCopyReasons = [
  "Pending",
  "Queued",
  "Copying",
  "Frozen",
  "Completed",
  "Detached",
  "Broken",
  "Incomplete",
  "CopyFailed",
  "Lost",
  "TargetNotFound",
  "TargetNotBound",
  "TargetDriverMismatch",
  "TargetIsSource",
  ...sourceReasons,
  ...classReasons,
  ...arrayReasons,
  ...deletionReasons,
] as const;
export type PhysicalCopyReason = (typeof physicalCopyReasons)[number];

/** Events beside the conditions' reasons (which a Warning event repeats). */
export type PhysicalCopyEventReason = PhysicalCopyReason | "Ready" | "Halted" | "Deleted";

/** A target volume that does not resolve, said of the target. */
export const targetReason: Readonly<Record<SourceReason, PhysicalCopyReason>> = {
  SourceNotFound: "TargetNotFound",
  SourceNotBound: "TargetNotBound",
  SourceDriverMismatch: "TargetDriverMismatch",
};
