// Metadata patches on our resources: the finalizer and the create intent go on together in one guarded JSON patch
// (one write on the way to Ready), and the finalizer comes off the same way. The guards come from kube/finalizers:
// a concurrent writer's finalizers are never dropped — the patch fails and the reconcile retries instead.
import { addFinalizerPatch, removeFinalizerPatch, type JsonPatchOp } from "../../kube/finalizers.ts";
import { metaTime } from "../../kube/conditions.ts";
import { copyFinalizer, createIntentAnnotation, type Meta } from "./objects.ts";

/** A key as a JSON Pointer segment (RFC 6901: `~` → `~0`, `/` → `~1`). */
export const pointer = (key: string): string => key.replace(/~/g, "~0").replace(/\//g, "~1");

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

type MetaPatcher<O> = (obj: O, ops: readonly JsonPatchOp[]) => Promise<void>;

/**
 * Before a create (a plan that carries addFinalizer: a create, or a wait for its source): the finalizer and, when
 * the plan records it, the create intent at `now`, in one patch (none when both are on already).
 */
export async function prepareCreate<O extends { readonly metadata: Meta }>(
  patch: MetaPatcher<O>,
  obj: O,
  plan: { readonly kind: string; readonly addFinalizer?: boolean; readonly recordIntent?: boolean },
  now: number,
): Promise<void> {
  if (plan.addFinalizer === undefined) return;
  const intent =
    plan.recordIntent === true ? { annotation: createIntentAnnotation, at: metaTime(new Date(now)) } : undefined;
  const ops = addFinalizerAndIntentPatch(obj.metadata, plan.addFinalizer, intent);
  if (ops.length > 0) await patch(obj, ops);
}

/** Takes the copy finalizer off, if it is on. */
export async function releaseFinalizer<O extends { readonly metadata: Meta }>(
  patch: MetaPatcher<O>,
  obj: O,
): Promise<void> {
  const ops = removeFinalizerOps(obj.metadata);
  if (ops.length > 0) await patch(obj, ops);
}
