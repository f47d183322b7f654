// The report half of every reconcile: write the status (whole, by server-side apply, skipped when unchanged; an
// object already gone is no error) and then the transition's Events, and turn what comes next into a Result.
import { apiVersion } from "../../api/common.ts";
import type { ConditionInput } from "../../kube/conditions.ts";
import type { Result } from "../../kube/controller.ts";
import { isNotFound } from "../../kube/errors.ts";
import type { EventRecorder, EventType, ObjectRef } from "../../kube/events.ts";
import type { StatusObject, StatusWriter } from "../../kube/status.ts";
import type { Meta } from "./objects.ts";
import { toResult, type Next } from "./retry.ts";

/** Our object as an Event's regarding (or related) reference. */
export function objectRef(kind: string, meta: Meta): ObjectRef {
  return { apiVersion, kind, namespace: meta.namespace ?? "", name: meta.name, uid: meta.uid };
}

/** An Event of a transition, as a kind's status.ts says it: its reasons are the kind's closed set. */
export interface EventSpec<R extends string = string> {
  readonly type: EventType;
  readonly reason: R;
  readonly note: string;
}

export interface PublishedEvent extends EventSpec {
  /** What was done or failed ("Create", "Delete", "Resync"). */
  readonly action: string;
  readonly regarding: ObjectRef;
  readonly related?: ObjectRef;
}

export interface Publication {
  /** False when the object is about to go (its finalizer removed): nothing to write. */
  readonly write: boolean;
  /** An object found gone at the write gets no Events and no next step (a job deleted meanwhile). */
  readonly stopIfGone?: boolean;
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: readonly PublishedEvent[];
  readonly next: Next;
}

export interface Published {
  /** The status write changed the object. */
  readonly written: boolean;
  /** The object was gone when its status was written. */
  readonly gone: boolean;
}

/** Writes the status, then the events; the Result says what comes next (a thrown error: back off). */
export async function publish(
  deps: { readonly status: StatusWriter; readonly events: EventRecorder; readonly now: number },
  obj: StatusObject,
  p: Publication,
): Promise<{ readonly result: Result; readonly published: Published }> {
  let written = false;
  if (p.write) {
    try {
      written = (await deps.status.write(obj, { fields: p.fields, conditions: p.conditions })).written;
    } catch (e: unknown) {
      if (!isNotFound(e)) throw e;
      if (p.stopIfGone === true) {
        return { result: toResult({ kind: "done" }, deps.now), published: { written: false, gone: true } };
      }
    }
  }
  await Promise.all(
    p.events.map((ev) =>
      deps.events.record({
        regarding: ev.regarding,
        type: ev.type,
        reason: ev.reason,
        note: ev.note,
        action: ev.action,
        ...(ev.related === undefined ? {} : { related: ev.related }),
      }),
    ),
  );
  return { result: toResult(p.next, deps.now), published: { written, gone: false } };
}

/**
 * A copy kind's report published on its object: the events regard the object, with the action Delete for a
 * deletion's events and Create for the rest.
 */
export async function publishCopyReport(
  deps: { readonly status: StatusWriter; readonly events: EventRecorder; readonly now: number },
  kind: string,
  obj: StatusObject & { readonly metadata: Meta },
  rep: Omit<Publication, "events"> & { readonly events: readonly EventSpec[] },
): Promise<{ readonly result: Result; readonly published: Published }> {
  const regarding = objectRef(kind, obj.metadata);
  const events = rep.events.map((ev) => ({
    ...ev,
    regarding,
    action: ev.reason === "Deleted" || ev.reason === "DeletionRefused" ? "Delete" : "Create",
  }));
  return publish(deps, obj, { ...rep, events });
}
