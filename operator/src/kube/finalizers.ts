// Finalizers: the guarded patches through which controllers add and remove theirs (kube-rs `finalizer` semantics,
// with the halves in each controller's plan: controllers/shared/meta.ts adds ours together with the create intent).
//
// Apply half: while the object is live, our finalizer is added before any external work, so nothing we create on
// an array can outlive an object deleted before we saw it. Cleanup half: once deletionTimestamp is set and our
// finalizer is present, the controller's cleanup runs; only when it finished is our finalizer removed. Cleanup
// must tolerate a half-finished apply (it may run when apply never completed).
//
// Invariants: patches are guarded JSON Patches — `test` on the exact finalizer list we computed from (or on
// resourceVersion when there is no list yet), then the new list — so a finalizer another controller added
// concurrently is never dropped: the guard fails (422) and the caller re-reads and retries. Only our name is ever
// added or removed; the order of the others is kept.

import { PatchStrategy, type CustomObjectsApi } from "@kubernetes/client-node";
import { resourcePath, type RestWriter } from "./rest.ts";

export interface FinalizerMeta {
  readonly finalizers?: readonly string[] | undefined;
  readonly resourceVersion?: string | undefined;
  readonly deletionTimestamp?: Date | string | undefined;
}

export interface HasMeta {
  readonly metadata?: FinalizerMeta | undefined;
}

export type JsonPatchOp =
  | { readonly op: "test"; readonly path: string; readonly value: unknown }
  | { readonly op: "add"; readonly path: string; readonly value: unknown }
  | { readonly op: "replace"; readonly path: string; readonly value: unknown }
  | { readonly op: "remove"; readonly path: string };

export function hasFinalizer(meta: FinalizerMeta | undefined, name: string): boolean {
  return meta?.finalizers?.includes(name) ?? false;
}

export function isDeleting(meta: FinalizerMeta | undefined): boolean {
  return meta?.deletionTimestamp !== undefined;
}

/** `list` with `name` appended when missing; others untouched. */
export function withFinalizer(list: readonly string[] | undefined, name: string): string[] {
  const current = list ?? [];
  return current.includes(name) ? [...current] : [...current, name];
}

/** `list` without `name` (every occurrence); others untouched and in order. */
export function withoutFinalizer(list: readonly string[] | undefined, name: string): string[] {
  return (list ?? []).filter((f) => f !== name);
}

/** The guard: the list we computed from, or the resourceVersion when the object has no list yet. */
function guard(meta: FinalizerMeta): JsonPatchOp {
  if (meta.finalizers !== undefined) return { op: "test", path: "/metadata/finalizers", value: [...meta.finalizers] };
  if (meta.resourceVersion === undefined || meta.resourceVersion === "") {
    throw new Error("cannot guard finalizer patch: object has neither finalizers nor a resourceVersion");
  }
  return { op: "test", path: "/metadata/resourceVersion", value: meta.resourceVersion };
}

/** The patch that adds our finalizer, or undefined when it is already there. */
export function addFinalizerPatch(meta: FinalizerMeta, name: string): JsonPatchOp[] | undefined {
  if (hasFinalizer(meta, name)) return undefined;
  const value = withFinalizer(meta.finalizers, name);
  // `replace` needs the member to exist; `add` on an absent member creates it (the guard ensures it is absent).
  const op = meta.finalizers === undefined ? "add" : "replace";
  return [guard(meta), { op, path: "/metadata/finalizers", value }];
}

/** The patch that removes our finalizer, or undefined when it is not there. */
export function removeFinalizerPatch(meta: FinalizerMeta, name: string): JsonPatchOp[] | undefined {
  if (!hasFinalizer(meta, name)) return undefined;
  return [guard(meta), { op: "replace", path: "/metadata/finalizers", value: withoutFinalizer(meta.finalizers, name) }];
}

/** Sends a JSON Patch to the object being reconciled. */
export type PatchObject = (ops: readonly JsonPatchOp[]) => Promise<void>;

export interface CustomObjectRef {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  /** Omitted for cluster-scoped kinds. */
  readonly namespace?: string;
  readonly name: string;
}

/** A PatchObject over client-node's CustomObjectsApi; its generated patch calls default to JSON Patch. */
export function customObjectPatcher(api: CustomObjectsApi, ref: CustomObjectRef): PatchObject {
  return async (ops) => {
    const body = [...ops];
    const { group, version, plural, name } = ref;
    if (ref.namespace === undefined) {
      await api.patchClusterCustomObject({ group, version, plural, name, body });
    } else {
      await api.patchNamespacedCustomObject({ group, version, plural, namespace: ref.namespace, name, body });
    }
  };
}

/** The same JSON Patch as customObjectPatcher, sent by the RestWriter. */
export function restObjectPatcher(rest: RestWriter, ref: CustomObjectRef): PatchObject {
  const path = resourcePath(ref, ref.namespace, ref.name);
  return (ops) => rest.send({ method: "PATCH", path, contentType: PatchStrategy.JsonPatch, body: JSON.stringify(ops) });
}

/** Cleanup says whether every external resource is gone; until then the finalizer stays. */
