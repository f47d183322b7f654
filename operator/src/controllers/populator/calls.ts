// Small API calls both strategies share: reads that treat NotFound as absent, deletes guarded by a UID
// precondition, annotation patches, and the finalizers that hold a claim and its copy while a population runs.
import { V1DeleteOptions, type CoreV1Api } from "@kubernetes/client-node";
import { isNotFound } from "../../kube/errors.ts";
import { addFinalizerPatch, type FinalizerMeta, type JsonPatchOp } from "../../kube/finalizers.ts";
import { fromJson } from "../../kube/models.ts";
import type { ControllerContext } from "../shared/context.ts";
import { pointer } from "../shared/meta.ts";
import type { Meta, PhysicalCopyObject, VirtualCopyObject } from "../shared/objects.ts";
import type { CopyView } from "./decide.ts";
import { claimFinalizer, sourceFinalizer, type ClaimRef, type CopyKind } from "./objects.ts";

export type AnyCopy = VirtualCopyObject | PhysicalCopyObject;

export async function readOrUndefined<T>(read: () => Promise<T>): Promise<T | undefined> {
  try {
    return await read();
  } catch (e: unknown) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

export async function ignoreNotFound(call: () => Promise<unknown>): Promise<void> {
  try {
    await call();
  } catch (e: unknown) {
    if (!isNotFound(e)) throw e;
  }
}

/** Delete options that make the API server delete only the object we checked (by its UID). */
export const deleteIf = (uid: string): V1DeleteOptions => fromJson(V1DeleteOptions, { preconditions: { uid } });

export function annotationOps(
  annotations: Record<string, string> | undefined,
  values: Readonly<Record<string, string>>,
): JsonPatchOp[] {
  if (annotations === undefined) return [{ op: "add", path: "/metadata/annotations", value: { ...values } }];
  return Object.entries(values).map(([k, v]) => ({ op: "add", path: `/metadata/annotations/${pointer(k)}`, value: v }));
}

export function findCopy(ctx: ControllerContext, kind: CopyKind, namespace: string, name: string): AnyCopy | undefined {
  return kind === "VirtualCopy"
    ? ctx.caches.virtualCopies.getByName(namespace, name)
    : ctx.caches.physicalCopies.getByName(namespace, name);
}

export interface HoldDeps {
  readonly ctx: ControllerContext;
  readonly core: CoreV1Api;
  readonly patchCopy: (kind: CopyKind, copy: { metadata: Meta }, ops: readonly JsonPatchOp[]) => Promise<void>;
}

/**
 * The claim's finalizer, then the copy's: from here on a deletion of either waits for cleanup. Returns the copy,
 * or undefined when the cache no longer holds the copy that was validated (then nothing more is to be made now).
 */
export async function hold(
  deps: HoldDeps,
  claimMeta: FinalizerMeta,
  ref: ClaimRef,
  copy: CopyView,
): Promise<AnyCopy | undefined> {
  const claimOps = addFinalizerPatch(claimMeta, claimFinalizer);
  if (claimOps !== undefined)
    await deps.core.patchNamespacedPersistentVolumeClaim({ namespace: ref.namespace, name: ref.name, body: claimOps });
  const found = findCopy(deps.ctx, copy.kind, ref.namespace, copy.name);
  if (found === undefined || found.metadata.uid !== copy.uid) return undefined;
  const copyOps = addFinalizerPatch(found.metadata, sourceFinalizer);
  if (copyOps !== undefined) await deps.patchCopy(copy.kind, found, copyOps);
  return found;
}
