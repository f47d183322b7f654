// Condition reasons every copy kind shares: its source, its class, the array's answers and its deletion.
export const sourceReasons = ["SourceNotFound", "SourceNotBound", "SourceDriverMismatch"] as const;
export const classReasons = ["ClassNotFound", "NoDefaultClass", "ClassUnusable"] as const;
export const arrayReasons = ["ArrayUnavailable", "ArrayAccessDenied"] as const;
export const deletionReasons = ["Deleting", "DeletionRefused", "DeletionBlocked"] as const;
