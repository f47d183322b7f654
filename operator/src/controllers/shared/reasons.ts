// Condition reasons every copy kind shares: its source, its class, the array's answers and its deletion.
export const sourceReasons = ["SourceNotFound", "SourceNotBound", "SourceDriverMismatch"] as const;
// NotSupported: the class's engine lacks a capability the spec asks for (a CIM driver without expiration, say).
export const classReasons = ["ClassNotFound", "NoDefaultClass", "ClassUnusable", "NotSupported"] as const;
export const arrayReasons = ["ArrayUnavailable", "ArrayAccessDenied"] as const;
// WaitingForClaims: deleting, but a PVC is still being made from the copy (the populator's finalizer).
export const deletionReasons = ["Deleting", "DeletionRefused", "DeletionBlocked", "WaitingForClaims"] as const;
