// The closed set of condition reasons a VirtualCopy can show (CamelCase, as metav1.Condition wants).
export const virtualCopyReasons = [
  "Idle",
  "Creating",
  "Restoring",
  "Broken",
  "Expired",
  "Lost",
  "SourceNotFound",
  "SourceNotBound",
  "SourceDriverMismatch",
  "ClassNotFound",
  "NoDefaultClass",
  "ClassUnusable",
  "NameTaken",
  "ArrayRefused",
  "ArrayUnavailable",
  "ArrayAccessDenied",
  "Deleting",
  "DeletionRefused",
  "DeletionBlocked",
] as const;
export type VirtualCopyReason = (typeof virtualCopyReasons)[number];
