// CopyJob status: the CIM_ConcreteJob view of the array task (JobState, OperationalStatus, PercentComplete,
// ErrorCode, ErrorDescription, times) and the conditions Succeeded (Unknown while running, then True or False
// for good), Reconciling (True until finished) and Stalled (True once failed), with the events of the transition.
import type { EngineError } from "../../engine/errors.ts";
import { finishedJobStates, type JobObservation, type JobState, type OperationalStatus } from "../../engine/port.ts";
import type { ConditionInput } from "../../kube/conditions.ts";
import type { EventSpec } from "../shared/publish.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import { safetyPollMs } from "../shared/indications.ts";
import { intentTime, startIntentAnnotation, type CopyJobObject } from "../shared/objects.ts";
import { accessDenied, accessDeniedRecheckMs, transientRecheckMaxMs, type Next } from "../shared/retry.ts";
import { errorOf } from "../shared/connect.ts";
import type { JobGathered, JobPlan } from "./decide.ts";

/** What the report reads of the plan (a group job's plans fit it too). */
export type ReportPlan =
  | JobPlan
  | { readonly kind: "start" | "create" | "halt" }
  | { readonly kind: "follow"; readonly task?: JobObservation | undefined };
import type { CopyJobEventReason, CopyJobReason } from "./reasons.ts";

export interface JobOutcome {
  readonly task?: JobObservation | undefined;
  readonly error?: EngineError | undefined;
  /** The finished job was deleted after its TTL. */
  readonly expired?: boolean | undefined;
}

export interface JobReport {
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: EventSpec<CopyJobEventReason>[];
  readonly next: Next;
}

const pollMs = 1_000;
/** "Restore of VirtualCopy db-snap": what the job does, for messages. */
export const whatOf = (job: CopyJobObject): string =>
  `${job.spec.operation} of ${job.spec.copyRef.kind} ${job.spec.copyRef.name}`;
const iso = (ms: number | undefined) => (ms === undefined ? undefined : metaTime(new Date(ms)));

export interface Verdict {
  readonly succeeded: "True" | "False" | "Unknown";
  readonly reason: CopyJobReason;
  readonly message: string;
}

export function jobReport(g: Pick<JobGathered, "job" | "now">, plan: ReportPlan, outcome: JobOutcome): JobReport {
  const task = outcome.task ?? (plan.kind === "follow" ? plan.task : undefined);
  const what = whatOf(g.job);
  const prev = g.job.status;
  const intent = intentTime(g.job.metadata, startIntentAnnotation);
  // A failure that may clear on its own is looked at again after as long as the job has waited (since its start
  // intent, else its creation), up to a minute.
  const recheck: Next = {
    kind: "recheck",
    since: intent ?? Date.parse(g.job.metadata.creationTimestamp ?? new Date(g.now).toISOString()),
    maxMs: transientRecheckMaxMs,
  };
  const starting = intent !== undefined && prev?.arrayJobId === undefined;
  let fields: Record<string, unknown>;
  let verdict: Verdict;
  let next: JobReport["next"];
  if (task !== undefined) {
    fields = taskFields(task, submittedAt(g.job));
    verdict = taskVerdict(task, what);
    // Indications wake the job on each change of its task; this poll is only the safety net.
    next = verdict.succeeded === "Unknown" ? { kind: "after", ms: safetyPollMs } : { kind: "done" };
  } else if (accessDenied(outcome.error) || (plan.kind === "blocked" && accessDenied(errorOf(plan.blocked)))) {
    // The array refused our credentials or certificate: nothing was started; wait for the class or Secret to change.
    fields = pending(prev, starting ? "Starting" : "New");
    verdict = {
      succeeded: "Unknown",
      reason: "ArrayAccessDenied",
      message: outcome.error?.message ?? (plan.kind === "blocked" ? plan.blocked.message : ""),
    };
    next = { kind: "after", ms: accessDeniedRecheckMs };
  } else if (outcome.error !== undefined && outcome.error.kind === "final") {
    const e = outcome.error;
    fields = ended("Exception", ["Completed", "Error"], e.arrayCode ?? 0, e.message, g.now, submittedAt(g.job));
    verdict = { succeeded: "False", reason: "Refused", message: `the array refused the ${what}: ${e.message}` };
    next = { kind: "done" };
  } else if (outcome.error !== undefined) {
    fields = pending(prev, "Starting");
    verdict = { succeeded: "Unknown", reason: "ArrayUnavailable", message: outcome.error.message };
    next = recheck;
  } else if (plan.kind === "end") {
    const terminated = plan.reason === "Terminated";
    fields = ended(
      terminated ? "Terminated" : "Exception",
      terminated ? ["Completed", "Aborted"] : ["Completed", "Error"],
      0,
      plan.message,
      g.now,
      submittedAt(g.job),
    );
    verdict = { succeeded: "False", reason: plan.reason, message: `${what}: ${plan.message}` };
    next = { kind: "done" };
  } else if (plan.kind === "wait") {
    // The copy's changes wake the job (a copy that appears, is created, or comes to rest); the recheck is for what
    // no watch brings (a class fixed later).
    fields = pending(prev, starting ? "Starting" : "New");
    verdict = { succeeded: "Unknown", reason: plan.reason, message: plan.message };
    next = recheck;
  } else if (plan.kind === "blocked") {
    fields = pending(prev, starting ? "Starting" : "New");
    const reason = plan.blocked.reason === "ClassUnusable" ? "ClassUnusable" : "ArrayUnavailable";
    verdict = { succeeded: "Unknown", reason, message: plan.blocked.message };
    next = recheck;
  } else if (plan.kind === "create" || plan.kind === "start") {
    // The start was asked and its answer was lost (no task, no error): say so, and look again soon.
    fields = pending(prev, "Starting");
    verdict = { succeeded: "Unknown", reason: "Starting", message: `submitting ${what} to the array` };
    next = { kind: "after", ms: pollMs };
  } else {
    fields = pending(prev, "New");
    verdict = { succeeded: "Unknown", reason: "Pending", message: `${what} is pending` };
    next = { kind: "after", ms: pollMs };
  }
  fields.observedGeneration = g.job.metadata.generation ?? 0;
  // A start that was asked shows when, even before the array named its task.
  const submitted = submittedAt(g.job);
  if (fields.timeSubmitted === undefined && submitted !== undefined) fields.timeSubmitted = submitted;
  return { fields, conditions: verdictConditions(g.job, verdict), events: jobEvents(g.job, fields, verdict), next };
}

/** Succeeded (Unknown while running, then True or False), Reconciling and Stalled, from the verdict. */
export function verdictConditions(job: CopyJobObject, verdict: Verdict): ConditionInput[] {
  const gen = job.metadata.generation ?? 0;
  const cond = (type: string, status: "True" | "False" | "Unknown"): ConditionInput => ({
    type,
    status,
    reason: verdict.reason,
    message: verdict.message,
    observedGeneration: gen,
  });
  return [
    cond("Succeeded", verdict.succeeded),
    cond("Reconciling", verdict.succeeded === "Unknown" ? "True" : "False"),
    cond("Stalled", verdict.succeeded === "False" ? "True" : "False"),
  ];
}

function taskFields(t: JobObservation, submitted: string | undefined): Record<string, unknown> {
  const f: Record<string, unknown> = {
    jobState: t.jobState,
    operationalStatus: [...t.operationalStatus],
    percentComplete: t.percentComplete,
    errorCode: t.errorCode,
    arrayJobId: t.id,
    timeSubmitted: submitted ?? iso(t.timeSubmitted),
  };
  if (t.errorDescription !== "") f.errorDescription = t.errorDescription;
  if (t.startTime !== undefined) f.startTime = iso(t.startTime);
  if (t.endTime !== undefined) {
    f.completionTime = iso(t.endTime);
    f.elapsedSeconds = Math.max(0, Math.round((t.endTime - (t.startTime ?? t.timeSubmitted)) / 1000));
  }
  return f;
}

function taskVerdict(t: JobObservation, what: string): Verdict {
  const finished = finishedJobStates.includes(t.jobState);
  if (!finished) {
    const queued = t.jobState === "New" || t.jobState === "Starting";
    return {
      succeeded: "Unknown",
      reason: queued ? "Queued" : "Running",
      message: `${what} is ${queued ? "queued on the array" : `running: ${t.percentComplete}%`} (array task ${t.id})`,
    };
  }
  if (t.jobState === "Completed" && t.operationalStatus.includes("OK"))
    return {
      succeeded: "True",
      reason: "Completed",
      message: `${what} completed [Completed, OK] (array task ${t.id})`,
    };
  if (t.jobState === "Terminated" || t.jobState === "Killed")
    return { succeeded: "False", reason: "Terminated", message: `${what} was terminated (array task ${t.id})` };
  const code = t.errorCode === 0 ? "" : ` (array error ${t.errorCode})`;
  return {
    succeeded: "False",
    reason: "Failed",
    message: `${what} failed: ${t.errorDescription === "" ? "no reason given" : t.errorDescription}${code}`,
  };
}

function ended(
  state: JobState,
  op: OperationalStatus[],
  code: number,
  text: string,
  now: number,
  submitted: string | undefined,
): Record<string, unknown> {
  const at = iso(now);
  return {
    jobState: state,
    operationalStatus: op,
    percentComplete: 0,
    errorCode: code,
    errorDescription: text,
    completionTime: at,
    timeSubmitted: submitted ?? at,
  };
}

/**
 * Status while no task was observed this time: what was recorded is carried over unchanged (server-side apply
 * would otherwise remove it, and a lost arrayJobId could start a second task).
 */
export function pending(prev: JobGathered["job"]["status"], state: "New" | "Starting"): Record<string, unknown> {
  const { conditions: _c, observedGeneration: _g, ...recorded } = prev ?? {};
  return { percentComplete: 0, ...recorded, jobState: state === "Starting" ? state : (prev?.jobState ?? state) };
}

/** When the task was submitted: as recorded, else the start intent's time (a job that never got a task). */
export function submittedAt(job: CopyJobObject): string | undefined {
  const intent = intentTime(job.metadata, startIntentAnnotation);
  return job.status?.timeSubmitted ?? (intent === undefined ? undefined : metaTime(new Date(intent)));
}

/** Started (when the task id first shows), and Succeeded, Failed or Terminated when the job finishes. */
export function jobEvents(
  job: CopyJobObject,
  fields: Record<string, unknown>,
  verdict: Verdict,
): EventSpec<CopyJobEventReason>[] {
  const what = whatOf(job);
  const prev = job.status;
  const out: EventSpec<CopyJobEventReason>[] = [];
  const startedNow = prev?.arrayJobId === undefined && typeof fields.arrayJobId === "string";
  if (startedNow)
    out.push({ type: "Normal", reason: "Started", note: `Started ${what} (array task ${String(fields.arrayJobId)})` });
  const before = findCondition(prev?.conditions, "Succeeded")?.status ?? "Unknown";
  if (before === "Unknown" && verdict.succeeded !== "Unknown") {
    if (verdict.succeeded === "True") out.push({ type: "Normal", reason: "Succeeded", note: verdict.message });
    else if (verdict.reason === "Terminated") out.push({ type: "Normal", reason: "Terminated", note: verdict.message });
    else out.push({ type: "Warning", reason: "Failed", note: verdict.message });
  }
  return out;
}
