// CopyJob decisions: pure functions from what was gathered to one step — wait, start the array task, adopt one
// already running, halt it, end the job at once (an impossible request), or delete the finished job (TTL).
//
// Invariants:
// - A finished job (Succeeded True or False) never changes again; only its TTL is acted on.
// - The task is started once: before the call the job records its start intent (the annotation
//   arraycopy.io/start-requested-at, as every kind records an intent); a reconcile that finds the intent without a
//   task id adopts the copy's active or last task of the same operation submitted since, instead of starting
//   another.
// - A Copy job copies the volumes its own spec names (its PhysicalCopy put them there when it made the job).
// - A job the class's engine cannot run (a capability it lacks) ends at once as NotSupported.
// - Impossible requests end at once with a clear reason: resync of a Broken or unassociated copy (StartCopy may
//   repair a Broken one), restore of a virtual copy whose base is gone, a job on a copy gone from the array.
import {
  finishedJobStates,
  type Capabilities,
  type CopyObservation,
  type CreatePhysicalCopyRequest,
  type JobObservation,
  type OwnerTag,
  type StartJobRequest,
} from "../../engine/port.ts";
import { targetOf } from "../physicalcopy/decide.ts";
import type { Blocked, Link } from "../shared/connect.ts";
import { ownerTag } from "../shared/naming.ts";
import {
  intentTime,
  jobFinished,
  startIntentAnnotation,
  type CopyJobObject,
  type PhysicalCopyObject,
  type VirtualCopyObject,
} from "../shared/objects.ts";
import { arrayNameOf } from "../virtualcopy/decide.ts";

/** What the array shows for the job: its copy, by its array name, and its task. */
export interface JobArrayView {
  readonly copy: CopyObservation | undefined;
  /** The task: by status.arrayJobId, or the one a crashed start may have left (adoption). */
  readonly task: JobObservation | undefined;
}

export interface JobGathered {
  readonly job: CopyJobObject;
  readonly now: number;
  readonly copy: VirtualCopyObject | PhysicalCopyObject | undefined;
  /** Undefined when nothing had to be asked (a finished job, or no copy). */
  readonly link: Link<JobArrayView> | undefined;
}

export type EndReason = "CopyBroken" | "NotAssociated" | "CopyGone" | "Terminated" | "NotSupported";

export type JobPlan =
  | { readonly kind: "finished" }
  | { readonly kind: "expire"; readonly afterMs: number }
  | {
      readonly kind: "wait";
      readonly reason: "WaitingForCopy" | "WaitingForClass" | "CopyBusy";
      readonly message: string;
    }
  | { readonly kind: "blocked"; readonly blocked: Blocked }
  | { readonly kind: "create"; readonly request: CreatePhysicalCopyRequest }
  | { readonly kind: "start"; readonly request: StartJobRequest }
  | { readonly kind: "halt"; readonly id: string; readonly owner: OwnerTag }
  | { readonly kind: "end"; readonly reason: EndReason; readonly message: string }
  | { readonly kind: "follow"; readonly task: JobObservation };

/**
 * The copy's name on the array, from its spec: vc-<uid> for a virtual copy; for a physical copy its target —
 * pc-<uid> (online), the named volume, or the volume its claim resolved to (recorded by its controller).
 */
export function copyArrayName(copy: VirtualCopyObject | PhysicalCopyObject | undefined): string | undefined {
  if (copy === undefined) return undefined;
  return isPhysical(copy) ? targetOf(copy) : arrayNameOf(copy);
}

function isPhysical(copy: VirtualCopyObject | PhysicalCopyObject): copy is PhysicalCopyObject {
  return "target" in copy.spec;
}

const priorities = { High: "High", Medium: "Same", Low: "Low" } as const;

export function decideJob(g: JobGathered): JobPlan {
  const { job, link } = g;
  if (jobFinished(job)) return ttlPlan(job, g.now);
  const name = `${job.spec.copyRef.kind} ${job.spec.copyRef.name}`;
  const view = link?.ok === true ? link.observed : undefined;
  if (view?.task !== undefined) {
    if (job.spec.requestedState === "Terminate" && !finishedTask(view.task) && g.copy !== undefined) {
      return { kind: "halt", id: view.task.id, owner: ownerTag(g.copy.metadata) };
    }
    return { kind: "follow", task: view.task };
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
  if (
    link === undefined ||
    (!link.ok && (link.blocked.reason === "ClassNotFound" || link.blocked.reason === "NoDefaultClass"))
  )
    return { kind: "wait", reason: "WaitingForClass", message: `${name} has no usable CopyClass yet` };
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  const op = job.spec.operation;
  const missing = unsupported(g.copy, op, link.capabilities);
  if (missing !== undefined) return { kind: "end", reason: "NotSupported", message: missing };
  return op === "Copy" ? decideCopy(g) : decideOperation(g, g.copy, link.observed.copy, name, op);
}

/** What the job asks of the engine that it cannot do, in words; undefined when it can. */
function unsupported(
  copy: VirtualCopyObject | PhysicalCopyObject,
  op: CopyJobObject["spec"]["operation"],
  caps: Capabilities,
): string | undefined {
  if (op === "Copy") {
    if (!caps.physicalCopies) return "the class's engine does not make physical copies";
    if (isPhysical(copy) && copy.spec.target.create !== undefined && !caps.onlinePhysicalCopies)
      return "the class's engine cannot create the target of an online copy";
  }
  if ((op === "Resync" || op === "StartCopy") && !caps.resync)
    return `the class's engine cannot resynchronise copies: ${op} is impossible`;
  if (op === "Restore" && !caps.restore) return "the class's engine cannot restore a virtual copy onto its base";
  return undefined;
}

function decideCopy(g: JobGathered): JobPlan {
  const pc = g.copy as PhysicalCopyObject;
  const volumes = g.job.spec.volumes;
  if (volumes === undefined)
    return { kind: "end", reason: "NotSupported", message: `a Copy job names the volumes to copy in spec.volumes` };
  const online = pc.spec.target.create !== undefined;
  const priority = pc.spec.priority ?? g.job.spec.priority;
  return {
    kind: "create",
    request: {
      name: volumes.target,
      source: volumes.source,
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
  copy: CopyObservation | undefined,
  name: string,
  op: StartJobRequest["operation"],
): JobPlan {
  const { job } = g;
  const arrayName = copyArrayName(target);
  if (arrayName === undefined || copy === undefined) {
    const created = g.copy?.status?.creationTime !== undefined;
    return created
      ? { kind: "end", reason: "CopyGone", message: `${name} is no longer on the array` }
      : { kind: "wait", reason: "WaitingForCopy", message: `${name} is not on the array yet` };
  }
  const sync = copy.synchronization;
  // A Restore needs nothing more here: the array refuses to delete a base that still has copies (HAS_CHILD), so a
  // base cannot be gone while its copy is there; any other refusal is the array's, reported as the job's error.
  if (op !== "Restore") {
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

/** A finished job: kept for good, or deleted once its TTL after completion has passed. */
export function ttlPlan(job: CopyJobObject, now: number): Extract<JobPlan, { kind: "finished" | "expire" }> {
  const ttl = job.spec.ttlSecondsAfterFinished;
  const done = job.status?.completionTime;
  if (ttl === undefined || done === undefined) return { kind: "finished" };
  return { kind: "expire", afterMs: Math.max(0, Date.parse(done) + ttl * 1000 - now) };
}

/**
 * Which task a start that may have been interrupted left behind: the copy's active task, else its last one, when
 * it is of our operation and was submitted no earlier than our recorded intent (a second of slack for clock
 * rounding: the intent has second precision).
 */
export function adoptable(job: CopyJobObject, candidate: JobObservation | undefined): boolean {
  const requested = intentTime(job.metadata, startIntentAnnotation);
  if (candidate === undefined || requested === undefined || job.status?.arrayJobId !== undefined) return false;
  return candidate.operation === job.spec.operation && candidate.timeSubmitted >= requested - 1000;
}
