// PhysicalCopy status: the CIM StorageSynchronized view (CopyType, ReplicaType FullCopy, SyncState,
// PercentSynced, WhenSynced) and Ready / Reconciling / Stalled. Ready is True once the target holds a complete
// copy: Frozen (associated, at rest), or an unassociated copy that completed or was detached. Initialized
// (queued), ResyncInProgress and CopyInProgress are Reconciling; Broken, a halted copy, a failed initial job or a
// lost target are Stalled.
import type { EngineError } from "../../engine/errors.ts";
import type { CopyObservation } from "../../engine/port.ts";
import type { ConditionInput } from "../../kube/conditions.ts";
import type { EventSpec } from "../shared/publish.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import { safetyPollMs } from "../shared/indications.ts";
import { classOf, type Blocked } from "../shared/connect.ts";
import {
  accessDenied,
  accessDeniedRecheckMs,
  lastError,
  stalledRecheckMaxMs,
  transientRecheckMaxMs,
  type Next,
} from "../shared/retry.ts";
import { claimsPopulating, jobFinished } from "../shared/objects.ts";
import { releases, wasCreated, type PcEngineCall, type PcGathered, type PcPlan } from "./decide.ts";
import type { PhysicalCopyEventReason, PhysicalCopyReason } from "./reasons.ts";

export interface PcOutcome {
  readonly error?: EngineError | undefined;
  /** The engine call that succeeded. */
  readonly done?: PcEngineCall | undefined;
}

export interface PcReport {
  readonly reason: PhysicalCopyReason;
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: EventSpec<PhysicalCopyEventReason>[];
  readonly next: Next;
  readonly write: boolean;
}

type Mood = "ready" | "working" | "stalled";
interface State {
  readonly reason: PhysicalCopyReason;
  readonly message: string;
  readonly mood: Mood;
  readonly error?: EngineError | undefined;
}

const iso = (ms: number | undefined) => (ms === undefined ? undefined : metaTime(new Date(ms)));

export function pcReport(g: PcGathered, plan: PcPlan, outcome: PcOutcome): PcReport {
  const copy = currentCopy(plan, outcome);
  const state = isDeleting(g.pc.metadata) ? deletionState(g, plan, outcome) : lifeState(g, plan);
  const gen = g.pc.metadata.generation ?? 0;
  const cond = (type: string, on: boolean): ConditionInput => ({
    type,
    status: on ? "True" : "False",
    reason: state.reason,
    message: state.message,
    observedGeneration: gen,
  });
  const f = fields(g, plan, copy, state);
  return {
    reason: state.reason,
    fields: f,
    conditions: [
      cond("Ready", state.mood === "ready"),
      cond("Reconciling", state.mood === "working"),
      cond("Stalled", state.mood === "stalled"),
    ],
    events: events(g, state, outcome),
    next: nextStep(plan, state, f),
    write: !(releases(plan) && outcome.error === undefined),
  };
}

/** The copy on the array after this pass (none once its online target was deleted). */
function currentCopy(plan: PcPlan, outcome: PcOutcome): CopyObservation | undefined {
  if (outcome.done?.kind === "delete") return undefined;
  return plan.kind === "exists" || plan.kind === "halt" || plan.kind === "delete" || plan.kind === "detach"
    ? plan.copy
    : undefined;
}

/** A state that records status.lastError and is looked at again. */
function failing(state: State): boolean {
  return state.mood === "stalled" || state.error !== undefined;
}

function nextStep(plan: PcPlan, state: State, f: Record<string, unknown>): Next {
  if (plan.kind === "wait") return { kind: "after", ms: plan.ms };
  if (accessDenied(state.error)) return { kind: "after", ms: accessDeniedRecheckMs };
  if (failing(state)) {
    const since = Date.parse((f.lastError as { time: string }).time);
    return { kind: "recheck", since, maxMs: state.mood === "stalled" ? stalledRecheckMaxMs : transientRecheckMaxMs };
  }
  if (state.mood !== "working") return { kind: "done" };
  // A queued or running copy is woken by its job's indications; the poll is the safety net.
  return { kind: "after", ms: state.reason === "Queued" || state.reason === "Copying" ? safetyPollMs : 1_000 };
}

function blockedState(b: Blocked): State {
  if (b.reason !== "ArrayUnavailable") return { reason: b.reason, message: b.message, mood: "stalled" };
  if (accessDenied(b.error))
    return { reason: "ArrayAccessDenied", message: b.message, mood: "stalled", error: b.error };
  return { reason: "ArrayUnavailable", message: b.message, mood: "working", error: b.error };
}

function lifeState(g: PcGathered, plan: PcPlan): State {
  switch (plan.kind) {
    case "blocked":
      return blockedState(plan.blocked);
    case "unsupported":
      return { reason: "NotSupported", message: plan.message, mood: "stalled" };
    case "waitForVolumes":
      return { reason: plan.reason, message: plan.message, mood: "stalled" };
    case "exists": {
      // The offline target is tagged before its copy starts, so for a moment it reads as a complete unassociated
      // copy with no task (the array's task list shown a moment late): while the initial job has not finished,
      // no target with no synchronization is a copy yet.
      const job = g.initialJob;
      if (plan.copy.synchronization === undefined && job !== undefined && !jobFinished(job)) {
        return {
          reason: "Pending",
          message: `waiting for CopyJob ${job.metadata.name} to copy onto ${plan.copy.name}`,
          mood: "working",
        };
      }
      return copyState(plan.copy);
    }
    case "gone":
      return {
        reason: "Lost",
        message: `the copy's target ${g.pc.status?.targetVolume ?? ""} is no longer on the array`,
        mood: "stalled",
      };
    case "pending": {
      const failed = plan.job.status?.conditions?.find((c) => c.type === "Succeeded" && c.status === "False");
      if (failed !== undefined)
        return { reason: "CopyFailed", message: `the initial copy failed: ${failed.message}`, mood: "stalled" };
      return {
        reason: "Pending",
        message: `waiting for CopyJob ${plan.job.metadata.name} to start the copy`,
        mood: "working",
      };
    }
    default:
      return { reason: "Pending", message: "starting the initial copy", mood: "working" };
  }
}

function copyState(copy: CopyObservation): State {
  const sync = copy.synchronization;
  if (sync === undefined) {
    if (!copy.contentComplete) {
      return {
        reason: "Incomplete",
        message:
          `the copy onto ${copy.name} ended before it completed (halted, or failed: see its ` +
          `CopyJob); the target holds a partial copy`,
        mood: "stalled",
      };
    }
    return copy.saveSnapshot
      ? {
          reason: "Detached",
          message: `${copy.name} is an independent full copy of ${copy.source} (association ended)`,
          mood: "ready",
        }
      : { reason: "Completed", message: `${copy.name} is a full copy of ${copy.source}`, mood: "ready" };
  }
  switch (sync.syncState) {
    case "Frozen":
      return {
        reason: "Frozen",
        message: `${copy.name} holds a full copy of ${copy.source}, associated for resync`,
        mood: "ready",
      };
    case "Initialized":
      return {
        reason: "Queued",
        message: `the copy onto ${copy.name} is queued: the array runs as many physical copies as it allows at once`,
        mood: "working",
      };
    case "ResyncInProgress":
    case "CopyInProgress":
      return {
        reason: "Copying",
        message: `copying ${copy.source} onto ${copy.name}: ${sync.percentSynced}%`,
        mood: "working",
      };
    case "Broken":
      return {
        reason: "Broken",
        message:
          `the copy onto ${copy.name} is Broken; it cannot be resynchronised: run a StartCopy ` +
          `CopyJob to recopy everything, or delete it`,
        mood: "stalled",
      };
    default:
      return { reason: "Copying", message: `${copy.name} is ${sync.syncState}`, mood: "working" };
  }
}

function deletionState(g: PcGathered, plan: PcPlan, outcome: PcOutcome): State {
  const e = outcome.error;
  if (e !== undefined) {
    const refused = e.kind === "final";
    return {
      reason: refused ? "DeletionRefused" : "ArrayUnavailable",
      message: `cannot clean up the copy: ${e.message}`,
      mood: "working",
      error: e,
    };
  }
  if (plan.kind === "blocked") {
    return {
      reason: "DeletionBlocked",
      message:
        `cannot reach the array to clean up (${plan.blocked.message}); fix that, or remove the finalizer ` +
        `arraycopy.io/array-object to abandon it`,
      mood: "stalled",
    };
  }
  if (plan.kind === "populating") {
    return {
      reason: "WaitingForClaims",
      message:
        `waiting for ${claimsPopulating(g.pc.status)} to be made from this copy (finalizer ` +
        "arraycopy.io/populate-source) before cleaning up",
      mood: "working",
    };
  }
  const step =
    plan.kind === "halt"
      ? "halting the running copy"
      : plan.kind === "wait"
        ? "waiting for the initial copy job to settle"
        : "cleaning up";
  return { reason: "Deleting", message: step, mood: "working" };
}

function fields(g: PcGathered, plan: PcPlan, copy: CopyObservation | undefined, state: State): Record<string, unknown> {
  const prev = g.pc.status;
  const f: Record<string, unknown> = { observedGeneration: g.pc.metadata.generation ?? 0 };
  const className = classOf(g.link)?.name ?? prev?.copyClassName;
  if (className !== undefined) f.copyClassName = className;
  const volumes = plan.kind === "startCopy" || plan.kind === "pending" ? plan.volumes : undefined;
  const resolved = (r: PcGathered["source"]) => (r?.ok === true ? r.volume : undefined);
  f.sourceVolume = copy?.source ?? volumes?.source ?? resolved(g.source) ?? prev?.sourceVolume;
  f.targetVolume = copy?.name ?? volumes?.target ?? resolved(g.target) ?? prev?.targetVolume;
  f.copyType = g.pc.spec.saveSnapshot ? "UnSyncAssoc" : "UnSyncUnAssoc";
  f.replicaType = "FullCopy";
  f.syncMaintained = false;
  const sync = copy?.synchronization;
  const unasked = !g.link.ok && g.link.blocked.reason !== "ClassNotFound" && g.link.blocked.reason !== "NoDefaultClass";
  if (unasked && prev !== undefined) {
    // The array could not be asked: what was observed last stays (apply would otherwise remove it).
    const { conditions: _c, observedGeneration: _g, lastError: _e, ...observed } = prev;
    Object.assign(f, observed);
  } else if (sync !== undefined) {
    Object.assign(f, {
      copyType: sync.copyType,
      syncState: sync.syncState,
      percentSynced: sync.percentSynced,
      whenSynced: iso(sync.whenSynced) ?? prev?.whenSynced,
    });
  } else if (copy !== undefined && copy.contentComplete) {
    f.percentSynced = 100;
    f.whenSynced = prev?.whenSynced ?? g.initialJob?.status?.completionTime;
  } else {
    f.whenSynced = prev?.whenSynced;
  }
  if (copy !== undefined) {
    f.sizeBytes = copy.sizeBytes;
    f.creationTime = iso(copy.createdAt);
  } else if (wasCreated(g.pc)) {
    f.creationTime = prev?.creationTime;
  }
  const active = g.activeJob ?? (jobFinished(g.initialJob) ? undefined : g.initialJob);
  if (active !== undefined) f.currentJob = active.metadata.name;
  if (failing(state)) {
    f.lastError = lastError(prev?.lastError, state.message, state.error?.arrayCode, g.now);
  }
  for (const k of Object.keys(f)) if (f[k] === undefined) Reflect.deleteProperty(f, k);
  return f;
}

function events(g: PcGathered, state: State, outcome: PcOutcome): EventSpec<PhysicalCopyEventReason>[] {
  const out: EventSpec<PhysicalCopyEventReason>[] = [];
  const done = outcome.done;
  if (done?.kind === "halt")
    out.push({ type: "Normal", reason: "Halted", note: `Halted the copy onto ${done.copy.name}` });
  if (done?.kind === "delete")
    out.push({ type: "Normal", reason: "Deleted", note: `Deleted the online copy's target ${done.copy.name}` });
  if (done?.kind === "detach")
    out.push({
      type: "Normal",
      reason: "Detached",
      note: `Ended the association of ${done.copy.name}; the target is kept`,
    });
  const prev = findCondition(g.pc.status?.conditions, "Ready");
  if (prev?.reason === state.reason) return out;
  if (state.mood === "ready" && prev?.status !== "True")
    out.push({ type: "Normal", reason: "Ready", note: state.message });
  else if (state.mood === "stalled" || state.reason === "DeletionRefused")
    out.push({ type: "Warning", reason: state.reason, note: state.message });
  return out;
}
