// The typed shapes of our custom resources as the informers hold them: metadata plus the spec and status types
// inferred from the zod schemas in api/ (the one source of the API).
import { findCondition } from "../../kube/conditions.ts";
import type { CopyClassSpec, CopyClassStatus } from "../../api/copyclass.ts";
import type { CopyJobSpec, CopyJobStatus } from "../../api/copyjob.ts";
import type { PhysicalCopySpec, PhysicalCopyStatus } from "../../api/physicalcopy.ts";
import type { VirtualCopySpec, VirtualCopyStatus } from "../../api/virtualcopy.ts";

export interface Meta {
  readonly name: string;
  readonly namespace?: string;
  readonly uid: string;
  readonly generation?: number;
  readonly resourceVersion?: string;
  readonly creationTimestamp?: string;
  readonly deletionTimestamp?: string;
  readonly finalizers?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  readonly labels?: Readonly<Record<string, string>>;
  readonly ownerReferences?: readonly {
    readonly kind: string;
    readonly name: string;
    readonly uid: string;
    readonly controller?: boolean;
  }[];
}

export interface Resource<S, T> {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly metadata: Meta;
  readonly spec: S;
  readonly status?: T;
}

export type VirtualCopyObject = Resource<VirtualCopySpec, VirtualCopyStatus>;
export type PhysicalCopyObject = Resource<PhysicalCopySpec, PhysicalCopyStatus>;
export type CopyJobObject = Resource<CopyJobSpec, CopyJobStatus>;
export type CopyClassObject = Resource<CopyClassSpec, CopyClassStatus>;

/** A CopyJob has finished once its Succeeded condition is True or False; it never changes after. */
export function jobFinished(job: CopyJobObject | undefined): boolean {
  const s = findCondition(job?.status?.conditions, "Succeeded")?.status;
  return s === "True" || s === "False";
}

/** Our finalizer on copies: the array object is removed (or deliberately kept) before the resource goes. */
export const copyFinalizer = "arraycopy.io/array-object";

/**
 * Written with the finalizer before the engine is asked to create anything: the time the create was first
 * attempted. While it is recent and the create's outcome is uncertain, deletion waits instead of assuming that
 * nothing was created (a timed-out request may still land on the array).
 */
export const createIntentAnnotation = "arraycopy.io/create-requested-at";
