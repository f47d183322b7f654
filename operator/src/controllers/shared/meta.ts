// Metadata patches on our resources: the finalizer and the create intent go on together in one guarded JSON patch
// (one write on the way to Ready), and the finalizer comes off the same way. The guards come from kube/finalizers:
// a concurrent writer's finalizers are never dropped — the patch fails and the reconcile retries instead.
import { addFinalizerPatch, removeFinalizerPatch, type JsonPatchOp } from "../../kube/finalizers.ts";
import { copyFinalizer, type Meta } from "./objects.ts";

const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

/** The copy finalizer (when `finalizer`) and an intent annotation (when given and not yet there), in one patch. */
export function addFinalizerAndIntentPatch(
  meta: Meta,
  finalizer: boolean,
  intent: { readonly annotation: string; readonly at: string } | undefined,
): JsonPatchOp[] {
  const ops: JsonPatchOp[] = finalizer ? (addFinalizerPatch(meta, copyFinalizer) ?? []) : [];
  if (intent !== undefined && meta.annotations?.[intent.annotation] === undefined) {
    const { annotation, at } = intent;
    ops.push(
      meta.annotations === undefined
        ? { op: "add", path: "/metadata/annotations", value: { [annotation]: at } }
        : { op: "add", path: `/metadata/annotations/${pointer(annotation)}`, value: at },
    );
  }
  return ops;
}

export function removeFinalizerOps(meta: Meta): JsonPatchOp[] {
  return removeFinalizerPatch(meta, copyFinalizer) ?? [];
}
