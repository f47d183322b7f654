// CopyJob decisions: pure functions from what was gathered to one step — wait, start the array task, adopt one
// already running, halt it, end the job at once (an impossible request), or delete the finished job (TTL).
//
// Invariants:
// - A finished job (Succeeded True or False) never changes again; only its TTL is acted on.
// - The task is started once: before the call the status records jobState Starting and timeSubmitted (the
//   intent); a reconcile that finds Starting without a task id adopts the copy's active or last task of the same
//   operation submitted since, instead of starting another.
// - Impossible requests end at once with a clear reason: resync of a Broken or unassociated copy (StartCopy may
//   repair a Broken one), restore of a virtual copy whose base is gone, a job on a copy gone from the array.
import {
  finishedJobStates,
  type CopyObservation,
  type CreatePhysicalCopyRequest,
  type JobObservation,
  type OwnerTag,
  type StartJobRequest,
} from "../../engine/port.ts";
import type { EngineError } from "../../engine/errors.ts";
import type { ClassResolution } from "../shared/classes.ts";
import { ownerTag } from "../shared/naming.ts";
import { jobFinished, type CopyJobObject, type PhysicalCopyObject, type VirtualCopyObject } from "../shared/objects.ts";

export interface JobGathered {
  readonly job: CopyJobObject;
  readonly now: number;
  readonly copy: VirtualCopyObject | PhysicalCopyObject | undefined;
  readonly cls: ClassResolution | undefined;
  readonly engineError?: string | undefined;
  /** The engine's view of the copy, by its array name. */
  readonly observedCopy?: CopyObservation | undefined;
  /** The task: by status.arrayJobId, or the one a crashed start may have left (adoption). */
  readonly observedJob?: JobObservation | undefined;
  /** The base volume still exists (Restore only). */
  readonly baseExists?: boolean | undefined;
  readonly observeError?: EngineError | undefined;
}

export type EndReason = "CopyBroken" | "NotAssociated" | "BaseGone" | "CopyGone" | "Terminated";

export type JobPlan =
  | { readonly kind: "finished" }
  | { readonly kind: "expire"; readonly afterMs: number }
  | {
      readonly kind: "wait";
      readonly reason: "WaitingForCopy" | "WaitingForClass" | "CopyBusy";
      readonly message: string;
    }
  | { readonly kind: "blocked"; readonly message: string; readonly error?: EngineError | undefined }
  | { readonly kind: "create"; readonly request: CreatePhysicalCopyRequest }
  | { readonly kind: "start"; readonly request: StartJobRequest }
  | { readonly kind: "halt"; readonly id: string; readonly owner: OwnerTag }
  | { readonly kind: "end"; readonly reason: EndReason; readonly message: string }
  | { readonly kind: "follow"; readonly task: JobObservation };

/** The copy's name on the array, once its controller has recorded it. */
export function copyArrayName(copy: VirtualCopyObject | PhysicalCopyObject | undefined): string | undefined {
  if (copy === undefined) return undefined;
  return "targetVolume" in (copy.status ?? {})
    ? (copy.status as { targetVolume?: string }).targetVolume
    : (copy.status as { arrayName?: string } | undefined)?.arrayName;
}

const priorities = { High: "High", Medium: "Same", Low: "Low" } as const;

export function decideJob(g: JobGathered): JobPlan {
  const { job } = g;
  if (jobFinished(job)) return ttlPlan(g);
  const name = `${job.spec.copyRef.kind} ${job.spec.copyRef.name}`;
  if (g.observedJob !== undefined) {
    if (job.spec.requestedState === "Terminate" && !finishedTask(g.observedJob) && g.copy !== undefined) {
      return { kind: "halt", id: g.observedJob.id, owner: ownerTag(g.copy.metadata) };
    }
    return { kind: "follow", task: g.observedJob };
  }
  if (job.spec.requestedState === "Terminate")
    return { kind: "end", reason: "Terminated", message: "terminated before the array task started" };
  if (g.copy === undefined)
    return {
      kind: "wait",
      reason: "WaitingForCopy",
      message: `${name} not found in namespace ${job.metadata.namespace ?? ""}`,
    };
  // Never start work on a copy being deleted: its finalizer may go before a late task would land.
  if (g.copy.metadata.deletionTimestamp !== undefined)
    return { kind: "end", reason: "CopyGone", message: `${name} is being deleted` };
  if (g.cls === undefined || !g.cls.ok)
    return { kind: "wait", reason: "WaitingForClass", message: `${name} has no usable CopyClass yet` };
  if (g.engineError !== undefined) return { kind: "blocked", message: `CopyClass ${g.cls.cls.name}: ${g.engineError}` };
  if (g.observeError !== undefined) return { kind: "blocked", message: g.observeError.message, error: g.observeError };
  const op = job.spec.operation;
  return op === "Copy" ? decideCopy(g, name) : decideOperation(g, g.copy, name, op);
}

function decideCopy(g: JobGathered, name: string): JobPlan {
  const pc = g.copy as PhysicalCopyObject;
  const source = pc.status?.sourceVolume;
  const target = pc.status?.targetVolume;
  if (source === undefined || target === undefined)
    return {
      kind: "wait",
      reason: "WaitingForCopy",
      message: `${name} has not resolved its source and target volumes yet`,
    };
  const online = pc.spec.target.create !== undefined;
  const priority = pc.spec.priority ?? g.job.spec.priority;
  return {
    kind: "create",
    request: {
      name: target,
      source,
      online,
      saveSnapshot: pc.spec.saveSnapshot,
      owner: ownerTag(pc.metadata),
      ...(online || priority === undefined ? {} : { priority: priorities[priority] }),
    },
  };
}

function decideOperation(
  g: JobGathered,
  target: VirtualCopyObject | PhysicalCopyObject,
  name: string,
  op: StartJobRequest["operation"],
): JobPlan {
  const { job } = g;
  const arrayName = copyArrayName(target);
  const copy = g.observedCopy;
  if (arrayName === undefined || copy === undefined) {
    const created = g.copy?.status?.creationTime !== undefined;
    return created
      ? { kind: "end", reason: "CopyGone", message: `${name} is no longer on the array` }
      : { kind: "wait", reason: "WaitingForCopy", message: `${name} is not on the array yet` };
  }
  const sync = copy.synchronization;
  if (op === "Restore") {
    if (g.baseExists === false)
      return {
        kind: "end",
        reason: "BaseGone",
        message: `the base volume ${copy.source} of ${name} no longer exists: nothing to restore onto`,
      };
  } else {
    if (sync === undefined || sync.copyType !== "UnSyncAssoc") {
      return {
        kind: "end",
        reason: "NotAssociated",
        message:
          `${name} is not associated with ${copy.source} (made without saveSnapshot, or detached): ` +
          `${op} is impossible`,
      };
    }
    if (sync.syncState === "Broken" && op === "Resync") {
      return {
        kind: "end",
        reason: "CopyBroken",
        message:
          `${name} is Broken: a Broken copy cannot be resynchronised; run a StartCopy job to recopy ` +
          `everything, or delete it`,
      };
    }
  }
  if (copy.activeJob !== undefined)
    return { kind: "wait", reason: "CopyBusy", message: `${name} is busy with array task ${copy.activeJob}` };
  const priority =
    op === "Detach" || job.spec.priority === undefined ? {} : { priority: priorities[job.spec.priority] };
  return { kind: "start", request: { copy: arrayName, owner: ownerTag(target.metadata), operation: op, ...priority } };
}

function finishedTask(t: JobObservation): boolean {
  return finishedJobStates.includes(t.jobState);
}

function ttlPlan(g: JobGathered): JobPlan {
  const ttl = g.job.spec.ttlSecondsAfterFinished;
  const done = g.job.status?.completionTime;
  if (ttl === undefined || done === undefined) return { kind: "finished" };
  return { kind: "expire", afterMs: Math.max(0, Date.parse(done) + ttl * 1000 - g.now) };
}

/**
 * Which task a start that may have been interrupted left behind: the copy's active task, else its last one, when
 * it is of our operation and was submitted no earlier than our intent (a second of slack for clock rounding).
 */
export function adoptable(job: CopyJobObject, candidate: JobObservation | undefined): boolean {
  const submitted = job.status?.timeSubmitted;
  if (candidate === undefined || submitted === undefined || job.status?.jobState !== "Starting") return false;
  return candidate.operation === job.spec.operation && candidate.timeSubmitted >= Date.parse(submitted) - 1000;
}
