// Metadata patches on our resources: the finalizer and the create intent go on together in one guarded JSON patch
// (one write on the way to Ready), and the finalizer comes off the same way. The guards come from kube/finalizers:
// a concurrent writer's finalizers are never dropped — the patch fails and the reconcile retries instead.
import { addFinalizerPatch, removeFinalizerPatch, type JsonPatchOp } from "../../kube/finalizers.ts";
import { copyFinalizer, createIntentAnnotation, type Meta } from "./objects.ts";

const pointer = (key: string) => key.replace(/~/g, "~0").replace(/\//g, "~1");

export function addFinalizerAndIntentPatch(
  meta: Meta,
  finalizer: boolean,
  intentAt: string | undefined,
): JsonPatchOp[] {
  const ops: JsonPatchOp[] = finalizer ? (addFinalizerPatch(meta, copyFinalizer) ?? []) : [];
  if (intentAt !== undefined && meta.annotations?.[createIntentAnnotation] === undefined) {
    ops.push(
      meta.annotations === undefined
        ? { op: "add", path: "/metadata/annotations", value: { [createIntentAnnotation]: intentAt } }
        : { op: "add", path: `/metadata/annotations/${pointer(createIntentAnnotation)}`, value: intentAt },
    );
  }
  return ops;
}

export function removeFinalizerOps(meta: Meta): JsonPatchOp[] {
  return removeFinalizerPatch(meta, copyFinalizer) ?? [];
}
