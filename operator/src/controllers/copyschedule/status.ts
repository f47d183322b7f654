// CopySchedule status: a pure function of what was gathered, the plan and what act did. It yields the status
// fields (last, last successful and next scheduled times, the newest run, the runs going on, the copies kept,
// refused deletions, counts), the kstatus conditions, the transition's events and what comes next.
//
// Ready is True while the schedule can run and its newest finished run succeeded (or none has finished yet:
// Scheduled; or it is suspended); False when that run failed (LastRunFailed: the schedule goes on) or when it
// cannot run. Stalled is True for a schedule that cannot run without a change: a cron or time zone the library
// refuses, a run's name held by another object, an object the apiserver refuses. Reconciling is True only while
// a deleted schedule deletes what it made.
import type { ConditionInput } from "../../kube/conditions.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import type { EventSpec } from "../shared/publish.ts";
import type { Next } from "../shared/retry.ts";
import type { Made, MadeKind, ScheduleGathered, SchedulePlan, Tick } from "./decide.ts";
import type { CopyScheduleEventReason, CopyScheduleReason } from "./reasons.ts";

export interface ScheduleOutcome {
  /** The due run's object was created. */
  readonly created?: boolean | undefined;
  /** Its name already existed (a stale cache): look again. */
  readonly conflict?: boolean | undefined;
  /** The apiserver refused the run's object. */
  readonly createError?: string | undefined;
  readonly replaced?: readonly string[] | undefined;
  readonly pruned?: readonly string[] | undefined;
  /** Deleted while the schedule itself is being deleted. */
  readonly removed?: readonly string[] | undefined;
}

export interface ScheduleReport {
  readonly write: boolean;
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: EventSpec<CopyScheduleEventReason>[];
  readonly next: Next;
}

interface Verdict {
  readonly ready: "True" | "False";
  readonly reason: CopyScheduleReason;
  readonly message: string;
  readonly stalled: boolean;
  readonly reconciling: boolean;
}

/** The longest wait between two looks at a schedule: a clock that jumps (a VM resumed) is noticed within it. */
export const maxScheduleWaitMs = 60 * 60_000;
const recheckMs = 60_000;
const finalizePollMs = 5_000;
const iso = (ms: number) => metaTime(new Date(ms));

type Result = "Running" | "Succeeded" | "Failed";
const resultOf = (m: Made): Result => (m.state === "ready" ? "Succeeded" : m.state === "failed" ? "Failed" : "Running");

export function scheduleReport(g: ScheduleGathered, plan: SchedulePlan, outcome: ScheduleOutcome): ScheduleReport {
  if (plan.kind === "finalize") return finalizeReport(g, plan, outcome);
  const prev = g.schedule.status;
  const tick = plan.kind === "run" ? plan.tick : ({ kind: "none" } as const);
  const made = tick.kind === "make" && outcome.created === true ? madeNow(tick) : undefined;
  const deleted = new Set([...(outcome.pruned ?? []), ...(outcome.replaced ?? [])]);
  const live = [...g.made.filter((m) => !m.deleting && !deleted.has(m.name)), ...(made === undefined ? [] : [made])];
  const newest = [...live].sort((a, b) => b.at - a.at)[0];
  const lastRun =
    newest === undefined
      ? prev?.lastRun
      : { name: newest.name, scheduledTime: iso(newest.at), result: resultOf(newest) };
  const recorded =
    (tick.kind === "make" && outcome.created === true) || tick.kind === "exists" || tick.kind === "missed"
      ? iso(tick.at)
      : prev?.lastScheduleTime;
  const newestReady = live
    .filter((m) => m.state === "ready")
    .reduce<number | undefined>((t, m) => (t === undefined || m.at > t ? m.at : t), undefined);
  const lastSuccessful = latestOf(prev?.lastSuccessfulTime, newestReady);
  const refused = g.made.filter((m) => m.deleting && m.refused !== undefined);
  const fields: Record<string, unknown> = {
    observedGeneration: g.schedule.metadata.generation ?? 0,
    lastScheduleTime: recorded,
    lastSuccessfulTime: lastSuccessful === undefined ? undefined : iso(lastSuccessful),
    nextScheduleTime: plan.kind === "run" && plan.next !== undefined ? iso(plan.next) : undefined,
    lastRun,
    // The lists are capped as the CRD caps them (counts has the totals): a status the apiserver refuses would
    // never be written.
    active: live
      .filter((m) => m.state === "running")
      .map((m) => m.name)
      .slice(0, 100),
    kept: (plan.kind === "run" ? plan.keep.filter((n) => !deleted.has(n)) : prev?.kept)?.slice(0, 500),
    deletionRefused: refused.slice(0, 100).map((m) => ({ name: m.name, message: (m.refused ?? "").slice(0, 1024) })),
    counts: {
      total: g.made.length + (made === undefined ? 0 : 1),
      ready: live.filter((m) => m.state === "ready").length,
      failed: live.filter((m) => m.state === "failed").length,
      running: live.filter((m) => m.state === "running").length,
      deleting: g.made.filter((m) => m.deleting || deleted.has(m.name)).length,
    },
  };
  for (const k of Object.keys(fields)) if (fields[k] === undefined) Reflect.deleteProperty(fields, k);
  const verdict = verdictOf(g, plan, outcome, live, lastRun?.result);
  return {
    write: true,
    fields,
    conditions: conditionsOf(g, verdict),
    events: [
      ...runEvents(g, tick, outcome, lastRun),
      ...refused
        .filter((m) => !(prev?.deletionRefused ?? []).some((r) => r.name === m.name))
        .map((m) => warning("DeletionRefused", `The array refuses to delete ${m.name}: ${m.refused ?? ""}`)),
      ...verdictEvents(g, verdict),
    ],
    next: nextOf(g, plan, outcome),
  };
}

function madeNow(tick: Tick & { kind: "make" }): Made {
  return { name: tick.name, at: tick.at, state: "running", deleting: false, refused: undefined };
}

function latestOf(recorded: string | undefined, t: number | undefined): number | undefined {
  const r = recorded === undefined ? undefined : Date.parse(recorded);
  if (r === undefined || Number.isNaN(r)) return t;
  return t === undefined ? r : Math.max(r, t);
}

const kindOf = (g: ScheduleGathered): MadeKind => g.kind;
const nextText = (plan: SchedulePlan): string =>
  plan.kind === "run" && plan.next !== undefined ? `; next run at ${iso(plan.next)}` : "";

function verdictOf(
  g: ScheduleGathered,
  plan: SchedulePlan,
  outcome: ScheduleOutcome,
  live: readonly Made[],
  last: Result | undefined,
): Verdict {
  const stalled = (reason: CopyScheduleReason, message: string): Verdict => ({
    ready: "False",
    reason,
    message,
    stalled: true,
    reconciling: false,
  });
  if (plan.kind === "invalid") return stalled(plan.reason, plan.message);
  if (plan.kind !== "run") throw new Error("unreachable");
  const tick = plan.tick;
  if (tick.kind === "taken")
    return stalled(
      "NameTaken",
      `${kindOf(g)} ${tick.name} exists and is not this schedule's: the run due at ${iso(tick.at)} cannot be made`,
    );
  if (outcome.createError !== undefined)
    return stalled(
      "CreateFailed",
      `cannot make ${kindOf(g)} ${tick.kind === "make" ? tick.name : ""}: ${outcome.createError}`,
    );
  const ok = (reason: CopyScheduleReason, message: string): Verdict => ({
    ready: "True",
    reason,
    message,
    stalled: false,
    reconciling: false,
  });
  if (plan.suspended) return ok("Suspended", "the schedule is suspended: no runs are made");
  const finished = [...live].filter((m) => m.state !== "running").sort((a, b) => b.at - a.at)[0];
  const result = finished === undefined ? (last === "Running" ? undefined : last) : resultOf(finished);
  const waiting =
    tick.kind === "waiting" ? `; the run due at ${iso(tick.at)} waits for ${tick.blockers.join(", ")} (Forbid)` : "";
  const run = `the last finished run${finished === undefined ? "" : `, ${finished.name},`}`;
  if (result === "Failed")
    return {
      ready: "False",
      reason: "LastRunFailed",
      message: `${run} failed${waiting}${nextText(plan)}`,
      stalled: false,
      reconciling: false,
    };
  if (result === "Succeeded") return ok("LastRunSucceeded", `${run} succeeded${waiting}${nextText(plan)}`);
  return ok("Scheduled", `no run has finished yet${waiting}${nextText(plan)}`);
}

function conditionsOf(g: ScheduleGathered, v: Verdict): ConditionInput[] {
  const gen = g.schedule.metadata.generation ?? 0;
  const cond = (type: string, status: "True" | "False"): ConditionInput => ({
    type,
    status,
    reason: v.reason,
    message: v.message,
    observedGeneration: gen,
  });
  return [
    cond("Ready", v.ready),
    cond("Reconciling", v.reconciling ? "True" : "False"),
    cond("Stalled", v.stalled ? "True" : "False"),
  ];
}

const normal = (reason: CopyScheduleEventReason, note: string): EventSpec<CopyScheduleEventReason> => ({
  type: "Normal",
  reason,
  note,
});
const warning = (reason: CopyScheduleEventReason, note: string): EventSpec<CopyScheduleEventReason> => ({
  type: "Warning",
  reason,
  note,
});

function runEvents(
  g: ScheduleGathered,
  tick: Tick,
  outcome: ScheduleOutcome,
  lastRun: { name: string; result: Result } | undefined,
): EventSpec<CopyScheduleEventReason>[] {
  const out: EventSpec<CopyScheduleEventReason>[] = [];
  const kind = kindOf(g);
  for (const name of outcome.replaced ?? [])
    out.push(normal("Replaced", `Replaced the running ${kind} ${name} (concurrencyPolicy Replace)`));
  if (tick.kind === "make" && outcome.created === true)
    out.push(normal("Created", `Created ${kind} ${tick.name} for the run due at ${iso(tick.at)}`));
  if (tick.kind === "missed") {
    const others = tick.missed > 1 ? ` (${tick.missed >= 100 ? "100 or more" : tick.missed} runs missed)` : "";
    const deadline = g.schedule.spec.startingDeadlineSeconds ?? 0;
    out.push(
      warning(
        "MissedSchedule",
        `Skipped the run due at ${iso(tick.at)}: ${Math.round(tick.lateMs / 1000)} s late, past ` +
          `startingDeadlineSeconds (${deadline})${others}`,
      ),
    );
  }
  for (const name of outcome.pruned ?? []) out.push(normal("Pruned", `Deleted ${kind} ${name} (retention)`));
  const prev = g.schedule.status?.lastRun;
  const changed = lastRun !== undefined && (prev?.name !== lastRun.name || prev.result !== lastRun.result);
  if (changed && lastRun.result === "Succeeded") out.push(normal("RunSucceeded", `Run ${lastRun.name} succeeded`));
  if (changed && lastRun.result === "Failed") out.push(warning("RunFailed", `Run ${lastRun.name} failed`));
  return out;
}

function verdictEvents(g: ScheduleGathered, v: Verdict): EventSpec<CopyScheduleEventReason>[] {
  if (!v.stalled) return [];
  const prev = findCondition(g.schedule.status?.conditions, "Ready");
  if (prev?.reason === v.reason && prev.message === v.message) return [];
  const reason = v.reason as CopyScheduleEventReason;
  return [warning(reason, v.message)];
}

function nextOf(g: ScheduleGathered, plan: SchedulePlan, outcome: ScheduleOutcome): Next {
  if (plan.kind === "invalid") return { kind: "done" };
  if (plan.kind !== "run") return { kind: "done" };
  if (outcome.conflict === true) return { kind: "after", ms: 1_000 };
  if (outcome.createError !== undefined || plan.tick.kind === "taken") return { kind: "after", ms: recheckMs };
  const times = [plan.next, plan.tick.kind === "waiting" ? plan.tick.until : undefined].filter(
    (t): t is number => t !== undefined,
  );
  if (times.length === 0) return { kind: "done" };
  const soonest = Math.min(...times);
  return { kind: "after", ms: Math.min(maxScheduleWaitMs, Math.max(0, soonest - g.now)) };
}

function finalizeReport(
  g: ScheduleGathered,
  plan: SchedulePlan & { kind: "finalize" },
  outcome: ScheduleOutcome,
): ScheduleReport {
  const kind = kindOf(g);
  const left = plan.remaining.length;
  const message =
    left === 0
      ? "deleting: nothing made remains"
      : `deleting: waiting for ${left} ${kind}${left === 1 ? "" : "s"} it made to be deleted`;
  const verdict: Verdict = { ready: "False", reason: "Deleting", message, stalled: false, reconciling: true };
  const prev = findCondition(g.schedule.status?.conditions, "Ready");
  const removed = outcome.removed ?? [];
  // What was recorded stays (server-side apply would otherwise remove it).
  const { conditions: _c, ...recorded } = g.schedule.status ?? {};
  return {
    write: !plan.release,
    fields: { ...recorded, observedGeneration: g.schedule.metadata.generation ?? 0 },
    conditions: conditionsOf(g, verdict),
    events: [
      ...(prev?.reason === "Deleting" || removed.length === 0
        ? []
        : [normal("Pruned", `Deleting the ${removed.length} ${kind}s the schedule made: ${removed.join(", ")}`)]),
    ],
    next: plan.release ? { kind: "done" } : { kind: "after", ms: finalizePollMs },
  };
}
