// The closed set of condition reasons a VirtualCopyGroup can show (CamelCase, as metav1.Condition wants).
import { arrayReasons, classReasons, deletionReasons, sourceReasons } from "../shared/reasons.ts";

export const virtualCopyGroupReasons = [
  "Idle",
  "Creating",
  "Broken",
  "Expired",
  "Lost",
  "InvalidMembers",
  ...sourceReasons,
  ...classReasons,
  ...arrayReasons,
  ...deletionReasons,
] as const;
export type VirtualCopyGroupReason = (typeof virtualCopyGroupReasons)[number];
