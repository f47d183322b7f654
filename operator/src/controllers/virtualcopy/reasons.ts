// The closed set of condition reasons a VirtualCopy can show (CamelCase, as metav1.Condition wants).
import { arrayReasons, classReasons, deletionReasons, sourceReasons } from "../shared/reasons.ts";

export const virtualCopyReasons = [
  "Idle",
  "Creating",
  "Restoring",
  "Broken",
  "Expired",
  "Lost",
  "NameTaken",
  "ArrayRefused",
  ...sourceReasons,
  ...classReasons,
  ...arrayReasons,
  ...deletionReasons,
] as const;
export type VirtualCopyReason = (typeof virtualCopyReasons)[number];
