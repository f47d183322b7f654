// Status of a CopyJob on a VirtualCopyGroup: each member's array task in status.members (CIM JobState,
// OperationalStatus, PercentComplete, error, times), and the job's own CIM fields and conditions combining them.
//
// Combined outcome: the job runs while any member's task runs, or while members are still to start; it is
// Completed only when every member completed [Completed, OK]; Exception ([Completed, Error], reason Failed) when
// a member failed or the array refused its start, naming the member and the members never started; Terminated
// when it was cancelled. Until the first member has a task (or a refusal) it reads as a single job does.
import type { EngineError } from "../../engine/errors.ts";
import { finishedJobStates, type JobObservation, type OperationalStatus } from "../../engine/port.ts";
import type { MemberJobStatus } from "../../api/copyjob.ts";
import { metaTime } from "../../kube/conditions.ts";
import { safetyPollMs } from "../shared/indications.ts";
import type { EventSpec } from "../shared/publish.ts";
import type { Next } from "../shared/retry.ts";
import { refusedStart, stopping, type GroupJobGathered, type GroupJobPlan } from "./group-decide.ts";
import type { CopyJobEventReason } from "./reasons.ts";
import {
  jobEvents,
  jobReport,
  submittedAt,
  verdictConditions,
  whatOf,
  type JobReport,
  type Verdict,
} from "./status.ts";

export interface GroupJobOutcome {
  /** The member the engine call was about, and what it returned. */
  readonly member?: number | undefined;
  readonly task?: JobObservation | undefined;
  readonly error?: EngineError | undefined;
  readonly expired?: boolean | undefined;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : metaTime(new Date(ms)));
const ok = (m: MemberJobStatus) => m.jobState === "Completed" && (m.operationalStatus ?? []).includes("OK");
const ended = (m: MemberJobStatus) =>
  m.jobState !== undefined && finishedJobStates.includes(m.jobState) && (m.arrayJobId !== undefined || refusedStart(m));
const failed = (m: MemberJobStatus) => ended(m) && !ok(m) && m.jobState === "Exception";
const notStarted = (m: MemberJobStatus) => m.arrayJobId === undefined && !refusedStart(m);

function memberOfTask(base: { arrayName: string; sourceVolume: string }, t: JobObservation): MemberJobStatus {
  return {
    ...base,
    arrayJobId: t.id,
    jobState: t.jobState,
    operationalStatus: [...t.operationalStatus],
    percentComplete: t.percentComplete,
    errorCode: t.errorCode,
    ...(t.errorDescription === "" ? {} : { errorDescription: t.errorDescription.slice(0, 1024) }),
    ...(t.startTime === undefined ? {} : { startTime: iso(t.startTime) }),
    ...(t.endTime === undefined ? {} : { completionTime: iso(t.endTime) }),
  };
}

/** Each member's entry after this pass: its task, a refusal (recorded, or the one this pass met), or not started. */
export function memberEntries(g: GroupJobGathered, outcome: GroupJobOutcome): MemberJobStatus[] {
  const views = g.link?.ok === true ? g.link.observed : [];
  const prev = g.job.status?.members ?? [];
  // The array could not be asked: what was recorded stays.
  if (views.length === 0) return prev.map((m) => ({ ...m }));
  return views.map((v, i) => {
    const base = { arrayName: v.arrayName, sourceVolume: v.sourceVolume };
    const task = outcome.member === i && outcome.task !== undefined ? outcome.task : v.task;
    if (task !== undefined) return memberOfTask(base, task);
    const recorded = prev.find((m) => m.arrayName === v.arrayName);
    if (refusedStart(recorded) && recorded !== undefined) return recorded;
    const e = outcome.member === i ? outcome.error : undefined;
    if (e?.kind === "final")
      return {
        ...base,
        jobState: "Exception",
        operationalStatus: ["Completed", "Error"],
        percentComplete: 0,
        errorCode: e.arrayCode ?? 0,
        errorDescription: e.message.slice(0, 1024),
        completionTime: iso(g.now),
      };
    return { ...base, jobState: "New", percentComplete: 0 };
  });
}

export function groupJobReport(g: GroupJobGathered, plan: GroupJobPlan, outcome: GroupJobOutcome): JobReport {
  const members = memberEntries(g, outcome);
  const begun = members.some((m) => !notStarted(m));
  if (!begun) {
    // Nothing started: the job reads as a single one (waiting, blocked, ended, starting), members listed as New.
    const rep = jobReport(g, plan.kind === "start" || plan.kind === "halt" ? { kind: plan.kind } : plan, outcome);
    return members.length === 0 ? rep : { ...rep, fields: { ...rep.fields, members } };
  }
  const views = g.link?.ok === true ? g.link.observed : [];
  const stop = stopping(g.job, views) || members.some(failed);
  const running = members.filter((m) => !ended(m) && !notStarted(m));
  const final = running.length === 0 && (stop || !members.some(notStarted));
  const verdict = combinedVerdict(g, members, final);
  const fields = combinedFields(g, members, verdict, final);
  const events = [...memberStartEvents(g, members), ...jobEvents(g.job, fields, verdict)];
  // The status write wakes the job (its own watch), with the cache holding what was recorded: the next member
  // starts then. A start that failed for now is tried again soon; running tasks wake the job by their
  // indications, and the poll is the safety net.
  const next: Next = final
    ? { kind: "done" }
    : outcome.error !== undefined
      ? { kind: "after", ms: 1_000 }
      : { kind: "after", ms: safetyPollMs };
  return { fields, conditions: verdictConditions(g.job, verdict), events, next };
}

function combinedVerdict(g: GroupJobGathered, members: readonly MemberJobStatus[], final: boolean): Verdict {
  const what = whatOf(g.job);
  const n = members.length;
  const done = members.filter(ok).length;
  const bad = members.filter(failed);
  const idle = members.filter(notStarted).map((m) => m.arrayName);
  const unstarted = idle.length === 0 ? "" : `; not started: ${idle.join(", ")}`;
  if (bad.length > 0) {
    const first = bad[0];
    const names = bad.map((m) => `${m.arrayName} (onto ${m.sourceVolume})`).join(", ");
    const why = first?.errorDescription ?? "no reason given";
    const code = first?.errorCode === undefined || first.errorCode === 0 ? "" : ` (array error ${first.errorCode})`;
    const message = `${what} failed on member ${names}: ${why}${code}; ${done} of ${n} members completed${unstarted}`;
    return final
      ? { succeeded: "False", reason: "Failed", message }
      : { succeeded: "Unknown", reason: "Running", message: `${message}; waiting for the running members` };
  }
  if (final && done === n)
    return { succeeded: "True", reason: "Completed", message: `${what} completed on all ${n} members [Completed, OK]` };
  if (final)
    return {
      succeeded: "False",
      reason: "Terminated",
      message: `${what} was terminated; ${done} of ${n} members completed${unstarted}`,
    };
  const pct = percentOf(members);
  const queued = members.every((m) => notStarted(m) || m.jobState === "New" || m.jobState === "Starting");
  return {
    succeeded: "Unknown",
    reason: queued ? "Queued" : "Running",
    message: `${what} is running: ${done} of ${n} members completed, ${pct}%${unstarted}`,
  };
}

function percentOf(members: readonly MemberJobStatus[]): number {
  if (members.length === 0) return 0;
  const sum = members.reduce((s, m) => s + (ok(m) ? 100 : (m.percentComplete ?? 0)), 0);
  return Math.floor(sum / members.length);
}

function combinedFields(
  g: GroupJobGathered,
  members: readonly MemberJobStatus[],
  verdict: Verdict,
  final: boolean,
): Record<string, unknown> {
  const first = members.find(failed);
  const times = (pick: (m: MemberJobStatus) => string | undefined) =>
    members.map(pick).flatMap((t) => (t === undefined ? [] : [Date.parse(t)]));
  const starts = times((m) => m.startTime);
  const ends = times((m) => m.completionTime);
  const startTime = starts.length === 0 ? undefined : Math.min(...starts);
  const completion = final ? (ends.length === 0 ? g.now : Math.max(...ends)) : undefined;
  const submitted = submittedAt(g.job);
  const jobState = final
    ? verdict.succeeded === "True"
      ? "Completed"
      : verdict.reason === "Terminated"
        ? "Terminated"
        : "Exception"
    : verdict.reason === "Queued"
      ? "Starting"
      : "Running";
  const operationalStatus: OperationalStatus[] | undefined = final
    ? ["Completed", verdict.succeeded === "True" ? "OK" : verdict.reason === "Terminated" ? "Aborted" : "Error"]
    : undefined;
  const f: Record<string, unknown> = {
    observedGeneration: g.job.metadata.generation ?? 0,
    jobState,
    operationalStatus,
    percentComplete: final && verdict.succeeded === "True" ? 100 : percentOf(members),
    errorCode: first?.errorCode ?? 0,
    errorDescription: first === undefined ? undefined : `${first.arrayName}: ${first.errorDescription ?? ""}`,
    timeSubmitted: submitted,
    startTime: iso(startTime),
    completionTime: iso(completion),
    elapsedSeconds: completion === undefined ? undefined : elapsed(completion, startTime, submitted),
    members,
  };
  for (const k of Object.keys(f)) if (f[k] === undefined) Reflect.deleteProperty(f, k);
  return f;
}

function elapsed(completion: number, startTime: number | undefined, submitted: string | undefined): number {
  const from = startTime ?? (submitted === undefined ? completion : Date.parse(submitted));
  return Math.max(0, Math.round((completion - from) / 1000));
}

/** A Started event for each member whose task first shows in this pass. */
function memberStartEvents(g: GroupJobGathered, members: readonly MemberJobStatus[]): EventSpec<CopyJobEventReason>[] {
  const before = new Set(
    (g.job.status?.members ?? []).flatMap((m) => (m.arrayJobId === undefined ? [] : [m.arrayName])),
  );
  return members
    .filter((m) => m.arrayJobId !== undefined && !before.has(m.arrayName))
    .map((m) => ({
      type: "Normal" as const,
      reason: "Started" as const,
      note: `Started ${whatOf(g.job)}: member ${m.arrayName} onto ${m.sourceVolume} (array task ${m.arrayJobId ?? ""})`,
    }));
}
