// CopySchedule decisions: a pure function from the schedule, the time and what it made to one plan — make the run
// that is due (or record it as made, skip it past its deadline, wait for the running one under Forbid), prune by
// retention, or, once the schedule is deleted, delete what it made and then let go.
//
// Invariants:
// - Each run's object is named <schedule>-<yyyymmddhhmm> from its scheduled time (UTC), so a restart between the
//   create and the status write finds the object and records it instead of making a second (no intent needed:
//   the name is the intent).
// - As for a CronJob, only the latest due time counts: missed runs are made once, or skipped (with an event) once
//   past startingDeadlineSeconds; the earliest time considered is the last scheduled time, else the creation.
// - A finished run is never deleted but by retention (retention.ts), and a run still going on never.
// - Deletion: the schedule's finalizer stays until every object it made is gone, or being deleted with the array
//   refusing (retention hours): there is no garbage collector to rely on where kube-controller-manager is absent.
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import type { CopyScheduleObject } from "../shared/objects.ts";
import { countBetween, parseCron, type Cron, type ScheduleReason } from "./cron.ts";
import { retain, type CopyState } from "./retention.ts";

export const scheduleFinalizer = "arraycopy.io/schedule-copies";
/** On each object made: the schedule's name (≤ 52 characters, so a valid label value). */
export const scheduleLabel = "arraycopy.io/schedule";
/** On each object made: its run's scheduled time (RFC 3339, UTC). */
export const scheduledAtAnnotation = "arraycopy.io/scheduled-at";

export type MadeKind = "VirtualCopy" | "VirtualCopyGroup" | "CopyJob";

/** The kind a schedule makes, from its one template (CEL allows exactly one, and no swapping). */
export function madeKindOf(s: CopyScheduleObject): MadeKind {
  if (s.spec.virtualCopyGroupTemplate !== undefined) return "VirtualCopyGroup";
  return s.spec.copyJobTemplate === undefined ? "VirtualCopy" : "CopyJob";
}

export interface Made {
  readonly name: string;
  /** The run's scheduled time, epoch ms. */
  readonly at: number;
  readonly state: CopyState;
  readonly deleting: boolean;
  /** Set while the object is being deleted and the array refuses (a copy's DeletionRefused): why. */
  readonly refused: string | undefined;
}

export interface ScheduleGathered {
  readonly schedule: CopyScheduleObject;
  readonly now: number;
  readonly kind: MadeKind;
  /** The objects of `kind` the schedule owns (its ownerReference), in its namespace. */
  readonly made: readonly Made[];
  /** Names of objects of `kind` in the namespace that the schedule does not own. */
  readonly foreign: ReadonlySet<string>;
}

export type Tick =
  | { readonly kind: "none" }
  | { readonly kind: "make"; readonly at: number; readonly name: string; readonly replace: readonly Made[] }
  | { readonly kind: "exists"; readonly at: number; readonly name: string }
  | { readonly kind: "missed"; readonly at: number; readonly lateMs: number; readonly missed: number }
  | {
      readonly kind: "waiting";
      readonly at: number;
      readonly name: string;
      readonly blockers: readonly string[];
      /** When the run's deadline passes, if it has one. */
      readonly until: number | undefined;
    }
  | { readonly kind: "taken"; readonly at: number; readonly name: string };

export type SchedulePlan =
  | {
      readonly kind: "finalize";
      /** Objects made that are not yet being deleted. */
      readonly remove: readonly Made[];
      readonly remaining: readonly Made[];
      /** Remove the finalizer now. */
      readonly release: boolean;
    }
  | {
      readonly kind: "invalid";
      readonly addFinalizer: boolean;
      readonly reason: ScheduleReason;
      readonly message: string;
    }
  | {
      readonly kind: "run";
      readonly addFinalizer: boolean;
      readonly suspended: boolean;
      readonly tick: Tick;
      /** Ready objects retention keeps, newest first. */
      readonly keep: readonly string[];
      readonly prune: readonly Made[];
      /** The next scheduled time after now (undefined while suspended, or if the schedule has none). */
      readonly next: number | undefined;
    };

/** `<schedule>-<yyyymmddhhmm>` of the scheduled time in UTC: ≤ 65 characters for a name of ≤ 52. */
export function runName(schedule: string, at: number): string {
  const d = new Date(at);
  const two = (n: number) => String(n).padStart(2, "0");
  const stamp =
    `${d.getUTCFullYear()}${two(d.getUTCMonth() + 1)}${two(d.getUTCDate())}` +
    `${two(d.getUTCHours())}${two(d.getUTCMinutes())}`;
  return `${schedule}-${stamp}`;
}

/** The schedule an object of ours belongs to, by its name alone (for an object already gone from the cache). */
export function scheduleOfRunName(name: string): string | undefined {
  const m = /^(.+)-\d{12}$/.exec(name);
  return m?.[1];
}

export function decideSchedule(g: ScheduleGathered): SchedulePlan {
  const { schedule, now } = g;
  const meta = schedule.metadata;
  if (isDeleting(meta)) {
    const remove = g.made.filter((m) => !m.deleting);
    const release = hasFinalizer(meta, scheduleFinalizer) && g.made.every((m) => m.deleting && m.refused !== undefined);
    return { kind: "finalize", remove, remaining: g.made, release };
  }
  const addFinalizer = !hasFinalizer(meta, scheduleFinalizer);
  const parsed = parseCron(schedule.spec.schedule, schedule.spec.timeZone);
  if (!parsed.ok) return { kind: "invalid", addFinalizer, reason: parsed.reason, message: parsed.message };
  const { cron, zone } = parsed;
  const live = g.made.filter((m) => !m.deleting);
  const { keep, prune } = retain(live, schedule.spec.retention, zone);
  const pruned = new Set(prune);
  const base = { kind: "run" as const, addFinalizer, keep, prune: live.filter((m) => pruned.has(m.name)) };
  if (schedule.spec.suspend) return { ...base, suspended: true, tick: { kind: "none" }, next: undefined };
  return { ...base, suspended: false, tick: dueTick(g, cron, live), next: cron.next(now) };
}

function dueTick(g: ScheduleGathered, cron: Cron, live: readonly Made[]): Tick {
  const { schedule, now } = g;
  const recorded = Date.parse(schedule.status?.lastScheduleTime ?? "");
  const created = Date.parse(schedule.metadata.creationTimestamp ?? "");
  const earliest = Number.isNaN(recorded) ? (Number.isNaN(created) ? now : created) : recorded;
  const at = cron.latest(now);
  if (at === undefined || at <= earliest) return { kind: "none" };
  const name = runName(schedule.metadata.name, at);
  if (g.made.some((m) => m.name === name)) return { kind: "exists", at, name };
  const deadlineS = schedule.spec.startingDeadlineSeconds;
  if (deadlineS !== undefined && now - at > deadlineS * 1000)
    return { kind: "missed", at, lateMs: now - at, missed: countBetween(cron, earliest, now) };
  if (g.foreign.has(name)) return { kind: "taken", at, name };
  const running = live.filter((m) => m.state === "running");
  const policy = schedule.spec.concurrencyPolicy;
  if (policy === "Forbid" && running.length > 0) {
    const until = deadlineS === undefined ? undefined : at + deadlineS * 1000;
    return { kind: "waiting", at, name, blockers: running.map((m) => m.name), until };
  }
  return { kind: "make", at, name, replace: policy === "Replace" ? running : [] };
}
