// Decisions for a CopyJob on a VirtualCopyGroup (a group Restore): a pure function from what was gathered to one
// step — wait for the group, end at once, start the next member's array task, halt a running one, or follow.
//
// Invariants:
// - One array task per member, started one per reconcile, in the group's member order, each named in
//   status.members before the next is started; the start intent (arraycopy.io/start-requested-at) is on the job
//   before the first, so a member whose start answer was lost is adopted (its copy's task of our operation,
//   submitted since the intent), never started twice.
// - Every member is checked before the first start (each copy on the array, the group's own by its owner tag, none
//   busy): a group that cannot be restored whole is not restored in part.
// - A member that fails (its task ends in error, or the array refuses its start) stops the starts: the members not
//   started are never started, the running ones finish (halting a restore would leave its base incomplete), and
//   the job ends Exception naming the member. Terminate halts the running members, one per pass, and starts none.
import { finishedJobStates, type CopyObservation, type JobObservation, type OwnerTag } from "../../engine/port.ts";
import type { MemberJobStatus } from "../../api/copyjob.ts";
import type { Blocked, Link } from "../shared/connect.ts";
import { ownerTag } from "../shared/naming.ts";
import type { CopyJobObject, VirtualCopyGroupObject } from "../shared/objects.ts";
import { jobFinished } from "../shared/objects.ts";
import { ttlPlan, type EndReason, type JobPlan } from "./decide.ts";

/** One member as the array shows it: its copy (only when the group's own) and its task (recorded or adopted). */
export interface MemberView {
  readonly arrayName: string;
  readonly sourceVolume: string;
  readonly copy: CopyObservation | undefined;
  readonly task: JobObservation | undefined;
}

export interface GroupJobGathered {
  readonly job: CopyJobObject;
  readonly now: number;
  readonly group: VirtualCopyGroupObject | undefined;
  /** Undefined when nothing had to be asked (a finished job, or no group). */
  readonly link: Link<readonly MemberView[]> | undefined;
}

export type GroupJobPlan =
  | Extract<JobPlan, { kind: "finished" | "expire" | "blocked" | "end" }>
  | {
      readonly kind: "wait";
      readonly reason: "WaitingForCopy" | "WaitingForClass" | "CopyBusy";
      readonly message: string;
    }
  | { readonly kind: "start"; readonly member: number; readonly copy: string; readonly owner: OwnerTag }
  | { readonly kind: "halt"; readonly member: number; readonly id: string; readonly owner: OwnerTag }
  /** Every member that will run has a task: follow them (the status combines them). */
  | { readonly kind: "follow" };

const priorities = { High: "High", Medium: "Same", Low: "Low" } as const;
export const priorityOf = (job: CopyJobObject) =>
  job.spec.priority === undefined ? undefined : priorities[job.spec.priority];

const finished = (t: JobObservation | undefined): boolean => t !== undefined && finishedJobStates.includes(t.jobState);
const failedTask = (t: JobObservation | undefined): boolean =>
  t !== undefined && finished(t) && !(t.jobState === "Completed" && t.operationalStatus.includes("OK"));

/** The member's start was refused for good (recorded in status, no task): it failed without one. */
export function refusedStart(m: MemberJobStatus | undefined): boolean {
  return m !== undefined && m.arrayJobId === undefined && m.jobState === "Exception";
}

/** The members recorded in the job's status, by array name. */
export function recordedMembers(job: CopyJobObject): Map<string, MemberJobStatus> {
  return new Map((job.status?.members ?? []).map((m) => [m.arrayName, m]));
}

/** Whether starts have stopped: a member failed, or the job is being terminated. */
export function stopping(job: CopyJobObject, views: readonly MemberView[]): boolean {
  const recorded = recordedMembers(job);
  return (
    job.spec.requestedState === "Terminate" ||
    views.some((v) => failedTask(v.task) || refusedStart(recorded.get(v.arrayName)))
  );
}

export function decideGroupJob(g: GroupJobGathered): GroupJobPlan {
  const { job, group, link } = g;
  if (jobFinished(job)) return ttlPlan(g.job, g.now);
  const name = `VirtualCopyGroup ${job.spec.copyRef.name}`;
  const views = link?.ok === true ? link.observed : [];
  const started = views.some((v) => v.task !== undefined) || (job.status?.members ?? []).some(refusedStart);
  if (job.spec.requestedState === "Terminate") {
    const running = views.findIndex((v) => v.task !== undefined && !finished(v.task));
    const v = views[running];
    if (v?.task !== undefined && group !== undefined)
      return { kind: "halt", member: running, id: v.task.id, owner: ownerTag(group.metadata) };
    if (!started) return end("Terminated", "terminated before any member's array task started");
    return { kind: "follow" };
  }
  if (group === undefined) {
    if (started) return { kind: "follow" };
    return { kind: "wait", reason: "WaitingForCopy", message: `${name} not found in namespace ${ns(job)}` };
  }
  if (link === undefined || (!link.ok && isClassMissing(link.blocked)))
    return { kind: "wait", reason: "WaitingForClass", message: `${name} has no usable CopyClass yet` };
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  if (!link.capabilities.restore) return end("NotSupported", "the class's engine cannot restore a virtual copy");
  if (!started) {
    const blocker = preflight(group, views, name);
    if (blocker !== undefined) return blocker;
  }
  if (stopping(job, views)) return { kind: "follow" };
  const recorded = recordedMembers(job);
  const next = views.findIndex((v) => v.task === undefined && !refusedStart(recorded.get(v.arrayName)));
  const member = views[next];
  if (member === undefined) return { kind: "follow" };
  // A task on the member that is not ours to adopt (yet: the cache may not hold our intent) is never doubled.
  if (member.copy?.activeJob !== undefined)
    return {
      kind: "wait",
      reason: "CopyBusy",
      message: `member ${member.arrayName} is busy with array task ${member.copy.activeJob}`,
    };
  return { kind: "start", member: next, copy: member.arrayName, owner: ownerTag(group.metadata) };
}

const ns = (job: CopyJobObject) => job.metadata.namespace ?? "";
const end = (reason: EndReason, message: string): GroupJobPlan => ({ kind: "end", reason, message });
const isClassMissing = (b: Blocked) => b.reason === "ClassNotFound" || b.reason === "NoDefaultClass";

/** Why the group cannot be restored whole now (undefined: it can), checked before the first member starts. */
function preflight(
  group: VirtualCopyGroupObject,
  views: readonly MemberView[],
  name: string,
): GroupJobPlan | undefined {
  if (group.metadata.deletionTimestamp !== undefined) return end("CopyGone", `${name} is being deleted`);
  if (group.status?.creationTime === undefined || views.length === 0)
    return { kind: "wait", reason: "WaitingForCopy", message: `${name}'s member copies are not on the array yet` };
  const missing = views.filter((v) => v.copy === undefined).map((v) => v.arrayName);
  if (missing.length > 0)
    return end("CopyGone", `member copies ${missing.join(", ")} of ${name} are no longer on the array`);
  const busy = views.flatMap((v) =>
    v.copy?.activeJob === undefined ? [] : [`${v.arrayName} with array task ${v.copy.activeJob}`],
  );
  if (busy.length > 0) return { kind: "wait", reason: "CopyBusy", message: `${name} is busy: ${busy.join(", ")}` };
  return undefined;
}
