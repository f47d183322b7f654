// The typed shapes of our custom resources as the informers hold them: metadata plus the spec and status types
// inferred from the zod schemas in api/ (the one source of the API).
import { findCondition } from "../../kube/conditions.ts";
import type { CopyClassSpec, CopyClassStatus } from "../../api/copyclass.ts";
import type { CopyJobSpec, CopyJobStatus } from "../../api/copyjob.ts";
import type { CopyScheduleSpec, CopyScheduleStatus } from "../../api/copyschedule.ts";
import type { PhysicalCopySpec, PhysicalCopyStatus } from "../../api/physicalcopy.ts";
import type { VirtualCopySpec, VirtualCopyStatus } from "../../api/virtualcopy.ts";
import type { VirtualCopyGroupSpec, VirtualCopyGroupStatus } from "../../api/virtualcopygroup.ts";

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
export type VirtualCopyGroupObject = Resource<VirtualCopyGroupSpec, VirtualCopyGroupStatus>;
export type PhysicalCopyObject = Resource<PhysicalCopySpec, PhysicalCopyStatus>;
export type CopyJobObject = Resource<CopyJobSpec, CopyJobStatus>;
export type CopyClassObject = Resource<CopyClassSpec, CopyClassStatus>;
export type CopyScheduleObject = Resource<CopyScheduleSpec, CopyScheduleStatus>;

/** A CopyJob has finished once its Succeeded condition is True or False; it never changes after. */
export function jobFinished(job: CopyJobObject | undefined): boolean {
  const s = findCondition(job?.status?.conditions, "Succeeded")?.status;
  return s === "True" || s === "False";
}

/** Our finalizer on copies: the array object is removed (or deliberately kept) before the resource goes. */
export const copyFinalizer = "arraycopy.io/array-object";

/**
 * The populator's finalizer on a copy while a PVC is being made from it (controllers/populator): the copy's own
 * controller leaves the array object alone until it is gone.
 */
export const populateSourceFinalizer = "arraycopy.io/populate-source";

/** The PVCs being made from a copy now, from status.volumeClaims (the populator writes it). */
export function claimsPopulating(
  status: { volumeClaims?: readonly { name: string; phase: string }[] | undefined } | undefined,
): string {
  const names = (status?.volumeClaims ?? []).filter((c) => c.phase === "Populating").map((c) => c.name);
  return names.length === 0 ? "a PVC" : `PVC ${names.join(", ")}`;
}

/**
 * Intents: before an engine call whose outcome may be uncertain (a create or a task start that times out), the
 * object records, in one guarded metadata patch (with the finalizer when one is due), the time the call was first
 * attempted. Every kind does it the same way. A later reconcile that finds the intent and no outcome knows a call
 * may have landed: a VirtualCopy's deletion waits out the uncertainty window, a CopyJob adopts the task it finds
 * instead of starting a second, and a PhysicalCopy's deletion waits for its initial job to settle.
 */
export const createIntentAnnotation = "arraycopy.io/create-requested-at";
export const startIntentAnnotation = "arraycopy.io/start-requested-at";

/** When the intent was recorded, or undefined (none, or unreadable). */
export function intentTime(meta: Meta, annotation: string): number | undefined {
  const at = meta.annotations?.[annotation];
  const ms = at === undefined ? Number.NaN : Date.parse(at);
  return Number.isNaN(ms) ? undefined : ms;
}

/** The job has recorded that it is starting its array task. */
export function startRequested(job: CopyJobObject): boolean {
  return job.metadata.annotations?.[startIntentAnnotation] !== undefined;
}
