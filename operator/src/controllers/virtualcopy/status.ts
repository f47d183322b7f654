// VirtualCopy status: a pure function of what was gathered, the plan and the engine call's outcome. It yields
// the status fields in the CIM vocabulary, the kstatus conditions (Ready, Reconciling, Stalled), the events of
// this transition and what the reconciler does next.
//
// Ready is True while the copy exists and is usable (Idle, or being restored onto its base); Reconciling is True
// while the operator is still working towards the spec; Stalled is True when it cannot get there without a change
// (a missing source or class, a refusal, a Broken or lost copy). At most one of Reconciling and Stalled is True.
import type { CopyObservation } from "../../engine/port.ts";
import type { EngineError } from "../../engine/errors.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import { classOf } from "../shared/connect.ts";
import {
  blockedState,
  copyNextStep,
  deletionRefused,
  deniedState,
  failing,
  stateConditions,
  transitionEvent,
  unavailableState,
  type CopyReport,
  type CopyState,
} from "../shared/copy-state.ts";
import type { EventSpec } from "../shared/publish.ts";
import { accessDenied, lastError, type LastError, type Next } from "../shared/retry.ts";
import { claimsPopulating } from "../shared/objects.ts";
import { arrayNameOf, releases, wasCreated, type Gathered, type Plan } from "./decide.ts";
import type { VirtualCopyReason } from "./reasons.ts";

export interface Outcome {
  readonly created?: CopyObservation | undefined;
  readonly deleted?: boolean | undefined;
  readonly error?: EngineError | undefined;
}

export type Report = CopyReport<VirtualCopyReason>;

type State = CopyState<VirtualCopyReason>;

export function report(g: Gathered, plan: Plan, outcome: Outcome): Report {
  const copy = currentCopy(plan, outcome);
  const state = isDeleting(g.vc.metadata) ? deletionState(g, plan, outcome) : lifeState(g, plan, outcome, copy);
  const fields = statusFields(g, plan, copy, state);
  return {
    reason: state.reason,
    message: state.message,
    fields,
    conditions: stateConditions(state, g.vc.metadata.generation ?? 0),
    events: events(g, state, outcome, copy),
    next: nextStep(g, plan, state, copy, fields),
    write: !(releases(plan) && outcome.error === undefined),
  };
}

/** The copy on the array after this pass: the one just created, or the one observed (unless just deleted). */
function currentCopy(plan: Plan, outcome: Outcome): CopyObservation | undefined {
  if (outcome.created !== undefined) return outcome.created;
  if (plan.kind === "exists") return plan.copy;
  if (plan.kind === "delete" && outcome.error !== undefined) return plan.copy;
  return undefined;
}

function lifeState(g: Gathered, plan: Plan, outcome: Outcome, copy: CopyObservation | undefined): State {
  switch (plan.kind) {
    case "blocked":
      return blockedState(plan.blocked);
    case "unsupported":
      return { reason: "NotSupported", message: plan.message, mood: "stalled", ready: false };
    case "waitForSource":
      return { reason: plan.reason, message: plan.message, mood: "stalled", ready: false };
    case "gone":
      return plan.expired
        ? {
            reason: "Expired",
            message:
              `the array deleted virtual copy ${arrayNameOf(g.vc)} at its expiration time ` +
              (g.vc.status?.expirationTime ?? ""),
            mood: "resting",
            ready: false,
          }
        : {
            reason: "Lost",
            message:
              `virtual copy ${arrayNameOf(g.vc)} is no longer on the array; it is not re-created, as a new ` +
              `copy would hold another point in time`,
            mood: "stalled",
            ready: false,
          };
    case "create":
      if (outcome.error !== undefined)
        return accessDenied(outcome.error) ? deniedState(outcome.error) : createFailed(outcome.error);
      if (copy !== undefined) return copyState(copy);
      return {
        reason: "Creating",
        message: `creating virtual copy ${arrayNameOf(g.vc)}`,
        mood: "working",
        ready: false,
      };
    default:
      return copy === undefined
        ? { reason: "Creating", message: `creating virtual copy ${arrayNameOf(g.vc)}`, mood: "working", ready: false }
        : copyState(copy);
  }
}

function copyState(copy: CopyObservation): State {
  const sync = copy.synchronization?.syncState ?? "Idle";
  switch (sync) {
    case "Idle":
      return {
        reason: "Idle",
        message: `virtual copy ${copy.name} of ${copy.source} is ready`,
        mood: "ready",
        ready: true,
      };
    case "RestoreInProgress":
      return {
        reason: "Restoring",
        message: `virtual copy ${copy.name} is being restored onto ${copy.source}`,
        mood: "working",
        ready: true,
      };
    case "Broken":
      return {
        reason: "Broken",
        message:
          `virtual copy ${copy.name} is Broken on the array (a failed or halted restore); delete it, ` +
          `or restore again`,
        mood: "stalled",
        ready: false,
      };
    default:
      return { reason: "Creating", message: `virtual copy ${copy.name} is ${sync}`, mood: "working", ready: false };
  }
}

function createFailed(e: EngineError): State {
  if (e.kind !== "final") return unavailableState(e);
  if (e.code === "AlreadyExists")
    return {
      reason: "NameTaken",
      message: `${e.message}: another owner holds the name`,
      mood: "stalled",
      ready: false,
      error: e,
    };
  if (e.code === "NotFound")
    return { reason: "SourceNotFound", message: e.message, mood: "stalled", ready: false, error: e };
  return { reason: "ArrayRefused", message: e.message, mood: "stalled", ready: false, error: e };
}

function deletionState(g: Gathered, plan: Plan, outcome: Outcome): State {
  const e = outcome.error;
  if (e !== undefined) {
    return deletionRefused(e)
      ? {
          reason: "DeletionRefused",
          message: `the array refuses to delete the copy: ${e.message}`,
          mood: "working",
          ready: false,
          error: e,
        }
      : { reason: "ArrayUnavailable", message: e.message, mood: "working", ready: false, error: e };
  }
  if (plan.kind === "blocked") {
    return {
      reason: "DeletionBlocked",
      message:
        `cannot reach the array to delete the copy (${plan.blocked.message}); fix that, or remove the finalizer ` +
        `arraycopy.io/array-object to abandon the array object`,
      mood: "stalled",
      ready: false,
    };
  }
  if (plan.kind === "populating") {
    return {
      reason: "WaitingForClaims",
      message:
        `waiting for ${claimsPopulating(g.vc.status)} to be made from this copy (finalizer ` +
        `arraycopy.io/populate-source) before deleting virtual copy ${arrayNameOf(g.vc)}`,
      mood: "working",
      ready: false,
    };
  }
  const waiting =
    plan.kind === "wait" ? `, waiting ${Math.ceil(plan.ms / 1000)} s for an unconfirmed create to settle` : "";
  return {
    reason: "Deleting",
    message: `deleting virtual copy ${arrayNameOf(g.vc)}${waiting}`,
    mood: "working",
    ready: false,
  };
}

function isoOrUndefined(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : metaTime(new Date(ms));
}

function statusFields(
  g: Gathered,
  plan: Plan,
  copy: CopyObservation | undefined,
  state: State,
): Record<string, unknown> {
  const prev = g.vc.status;
  const f: Record<string, unknown> = { observedGeneration: g.vc.metadata.generation ?? 0 };
  const className = classOf(g.link)?.name ?? prev?.copyClassName;
  if (className !== undefined) f.copyClassName = className;
  const unasked = !g.link.ok && g.link.blocked.reason !== "ClassNotFound" && g.link.blocked.reason !== "NoDefaultClass";
  if (unasked && prev !== undefined) {
    // The array could not be asked: what was observed last stays (apply would otherwise remove it).
    const { conditions: _c, observedGeneration: _g, lastError: _e, ...observed } = prev;
    Object.assign(f, observed);
  } else if (copy !== undefined) {
    const sync = copy.synchronization;
    Object.assign(f, {
      arrayName: copy.name,
      sourceVolume: copy.source,
      readOnly: copy.readOnly,
      sizeBytes: copy.sizeBytes,
      creationTime: isoOrUndefined(copy.createdAt),
      expirationTime: isoOrUndefined(copy.expiresAt),
      retentionTime: isoOrUndefined(copy.retainedUntil),
      ...(sync === undefined
        ? {}
        : {
            copyType: sync.copyType,
            replicaType: sync.replicaType,
            syncState: sync.syncState,
            syncMaintained: sync.syncMaintained,
            whenSynced: isoOrUndefined(sync.whenSynced),
          }),
    });
  } else if (prev !== undefined && wasCreated(g.vc)) {
    // The copy is gone: keep what identifies what it was, drop what describes a live association.
    const { arrayName, sourceVolume, creationTime, whenSynced, expirationTime, retentionTime, readOnly, sizeBytes } =
      prev;
    Object.assign(f, {
      arrayName,
      sourceVolume,
      creationTime,
      whenSynced,
      expirationTime,
      retentionTime,
      readOnly,
      sizeBytes,
    });
  } else if (plan.kind === "create") {
    f.sourceVolume = plan.request.source;
  }
  if (failing(state)) {
    f.lastError = lastError(prev?.lastError, state.message, state.error?.arrayCode, g.now);
  }
  for (const k of Object.keys(f)) if (f[k] === undefined) Reflect.deleteProperty(f, k);
  return f;
}

function events(g: Gathered, state: State, outcome: Outcome, copy: CopyObservation | undefined): EventSpec[] {
  const prev = findCondition(g.vc.status?.conditions, "Ready");
  const out: EventSpec[] = [];
  if (outcome.deleted === true)
    out.push({ type: "Normal", reason: "Deleted", note: `Deleted virtual copy ${arrayNameOf(g.vc)} from the array` });
  if (outcome.created !== undefined && !state.ready)
    out.push({
      type: "Normal",
      reason: "Created",
      note: `Created virtual copy ${outcome.created.name} of ${outcome.created.source}`,
    });
  const transition = transitionEvent(
    prev,
    state,
    copy === undefined ? state.message : `Virtual copy ${copy.name} of ${copy.source} is ready`,
  );
  if (transition !== undefined) out.push(transition);
  return out;
}

function nextStep(
  g: Gathered,
  plan: Plan,
  state: State,
  copy: CopyObservation | undefined,
  fields: Record<string, unknown>,
): Next {
  if (plan.kind === "wait") return { kind: "after", ms: plan.ms };
  return copyNextStep(state, g.now, fields.lastError as LastError | undefined, {
    retainedUntil: copy?.retainedUntil,
    expiresAt: copy?.expiresAt,
  });
}
