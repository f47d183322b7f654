// The closed sets of reasons a CopyJob shows: on its conditions (Succeeded, Reconciling, Stalled; documented in
// docs/status.md) and on its Events (also posted, prefixed Job, on the copy the job acts on).
export const copyJobReasons = [
  "Pending",
  "Starting",
  "Queued",
  "Running",
  "Completed",
  "Failed",
  "Terminated",
  "Refused",
  "CopyBroken",
  "NotAssociated",
  "CopyGone",
  "WaitingForCopy",
  "WaitingForClass",
  "CopyBusy",
  "NotSupported",
  "ClassUnusable",
  "ArrayUnavailable",
  "ArrayAccessDenied",
] as const;
export type CopyJobReason = (typeof copyJobReasons)[number];

export type CopyJobEventReason = "Started" | "Succeeded" | "Failed" | "Terminated";
