// PhysicalCopy status: the CIM StorageSynchronized view (CopyType, ReplicaType FullCopy, SyncState,
// PercentSynced, WhenSynced) and Ready / Reconciling / Stalled. Ready is True once the target holds a complete
// copy: Frozen (associated, at rest), or an unassociated copy that completed or was detached. Initialized
// (queued), ResyncInProgress and CopyInProgress are Reconciling; Broken, a halted copy, a failed initial job or a
// lost target are Stalled.
import type { EngineError } from "../../engine/errors.ts";
import type { CopyObservation } from "../../engine/port.ts";
import type { ConditionInput } from "../../kube/conditions.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import { safetyPollMs } from "../shared/indications.ts";
import { accessDenied, accessDeniedRecheckMs, lastError, type Next } from "../shared/retry.ts";
import { jobFinished } from "../shared/objects.ts";
import { wasCreated, type PcGathered, type PcPlan } from "./decide.ts";
import { targetReason, type PhysicalCopyEventReason, type PhysicalCopyReason } from "./reasons.ts";

export interface PcOutcome {
  readonly error?: EngineError | undefined;
  readonly done?: PcPlan["engine"];
}

export interface PcEvent {
  readonly type: "Normal" | "Warning";
  readonly reason: PhysicalCopyEventReason;
  readonly note: string;
}

export interface PcReport {
  readonly reason: PhysicalCopyReason;
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: PcEvent[];
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
  const copy = outcome.done?.kind === "delete" ? undefined : g.observed;
  const state = isDeleting(g.pc.metadata) ? deletionState(g, plan, outcome) : lifeState(g, copy);
  const gen = g.pc.metadata.generation ?? 0;
  const cond = (type: string, on: boolean): ConditionInput => ({
    type,
    status: on ? "True" : "False",
    reason: state.reason,
    message: state.message,
    observedGeneration: gen,
  });
  const retry = state.mood === "stalled" || state.error !== undefined;
  return {
    reason: state.reason,
    fields: fields(g, copy, state),
    conditions: [
      cond("Ready", state.mood === "ready"),
      cond("Reconciling", state.mood === "working"),
      cond("Stalled", state.mood === "stalled"),
    ],
    events: events(g, state, outcome),
    next: nextStep(plan, state, retry),
    write: !(plan.removeFinalizer && outcome.error === undefined),
  };
}

function nextStep(plan: PcPlan, state: State, retry: boolean): Next {
  if (plan.waitMs !== undefined) return { kind: "after", ms: plan.waitMs };
  if (accessDenied(state.error)) return { kind: "after", ms: accessDeniedRecheckMs };
  if (retry) return { kind: "retry", message: state.message };
  if (state.mood !== "working") return { kind: "done" };
  // A queued or running copy is woken by its job's indications; the poll is the safety net.
  return { kind: "after", ms: state.reason === "Queued" || state.reason === "Copying" ? safetyPollMs : 1_000 };
}

function lifeState(g: PcGathered, copy: CopyObservation | undefined): State {
  if (!g.cls.ok) return { reason: g.cls.reason, message: g.cls.message, mood: "stalled" };
  if (g.engineError !== undefined)
    return { reason: "ClassUnusable", message: `CopyClass ${g.cls.cls.name}: ${g.engineError}`, mood: "stalled" };
  if (g.observeError !== undefined) {
    if (accessDenied(g.observeError))
      return { reason: "ArrayAccessDenied", message: g.observeError.message, mood: "stalled", error: g.observeError };
    return { reason: "ArrayUnavailable", message: g.observeError.message, mood: "working", error: g.observeError };
  }
  if (copy !== undefined) return copyState(copy);
  if (wasCreated(g.pc))
    return {
      reason: "Lost",
      message: `the copy's target ${g.pc.status?.targetVolume ?? ""} is no longer on the array`,
      mood: "stalled",
    };
  if (g.source !== undefined && !g.source.ok)
    return { reason: g.source.reason, message: g.source.message, mood: "stalled" };
  if (g.target !== undefined && !g.target.ok)
    return {
      reason: targetReason[g.target.reason],
      message: `target: ${g.target.message}`,
      mood: "stalled",
    };
  const job = g.initialJob;
  const failed = job?.status?.conditions?.find((c) => c.type === "Succeeded" && c.status === "False");
  if (failed !== undefined)
    return { reason: "CopyFailed", message: `the initial copy failed: ${failed.message}`, mood: "stalled" };
  return {
    reason: "Pending",
    message:
      job === undefined ? "starting the initial copy" : `waiting for CopyJob ${job.metadata.name} to start the copy`,
    mood: "working",
  };
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
        message: `the copy onto ${copy.name} is queued: the array runs two physical copies at once`,
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
  const blocked = !g.cls.ok ? g.cls.message : (g.engineError ?? g.observeError?.message);
  if (blocked !== undefined) {
    return {
      reason: "DeletionBlocked",
      message:
        `cannot reach the array to clean up (${blocked}); fix that, or remove the finalizer ` +
        `arraycopy.io/array-object to abandon it`,
      mood: "stalled",
    };
  }
  const step =
    plan.engine?.kind === "halt"
      ? "halting the running copy"
      : plan.waitMs !== undefined
        ? "waiting for the initial copy job to settle"
        : "cleaning up";
  return { reason: "Deleting", message: step, mood: "working" };
}

function fields(g: PcGathered, copy: CopyObservation | undefined, state: State): Record<string, unknown> {
  const prev = g.pc.status;
  const f: Record<string, unknown> = { observedGeneration: g.pc.metadata.generation ?? 0 };
  const className = g.cls.ok ? g.cls.cls.name : prev?.copyClassName;
  if (className !== undefined) f.copyClassName = className;
  f.sourceVolume = copy?.source ?? (g.source?.ok === true ? g.source.volume : prev?.sourceVolume);
  f.targetVolume = copy?.name ?? (g.target?.ok === true ? g.target.volume : prev?.targetVolume);
  f.copyType = g.pc.spec.saveSnapshot ? "UnSyncAssoc" : "UnSyncUnAssoc";
  f.replicaType = "FullCopy";
  f.syncMaintained = false;
  const sync = copy?.synchronization;
  if ((g.observeError !== undefined || g.engineError !== undefined) && prev !== undefined) {
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
  if (state.mood === "stalled" || state.error !== undefined) {
    f.lastError = lastError(prev?.lastError, state.message, state.error?.arrayCode, g.now);
  }
  for (const k of Object.keys(f)) if (f[k] === undefined) Reflect.deleteProperty(f, k);
  return f;
}

function events(g: PcGathered, state: State, outcome: PcOutcome): PcEvent[] {
  const out: PcEvent[] = [];
  if (outcome.done?.kind === "halt")
    out.push({ type: "Normal", reason: "Halted", note: `Halted the copy onto ${outcome.done.copy}` });
  if (outcome.done?.kind === "delete")
    out.push({ type: "Normal", reason: "Deleted", note: `Deleted the online copy's target ${outcome.done.copy}` });
  if (outcome.done?.kind === "detach")
    out.push({
      type: "Normal",
      reason: "Detached",
      note: `Ended the association of ${outcome.done.copy}; the target is kept`,
    });
  const prev = findCondition(g.pc.status?.conditions, "Ready");
  if (prev?.reason === state.reason) return out;
  if (state.mood === "ready" && prev?.status !== "True")
    out.push({ type: "Normal", reason: "Ready", note: state.message });
  else if (state.mood === "stalled" || state.reason === "DeletionRefused")
    out.push({ type: "Warning", reason: state.reason, note: state.message });
  return out;
}
