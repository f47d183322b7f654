// VirtualCopyGroup status: a pure function of what was gathered, the plan and the engine calls' outcome. It yields
// each member's copy (source, array name, SyncState, ready), the group's point in time, the kstatus conditions
// (Ready, Reconciling, Stalled), the events of this transition and what the reconciler does next.
//
// Ready is True when every member's copy exists and is usable (SyncState Idle). A create refused for good, or a
// member's copy Broken, makes the group Broken (Stalled); a member copy that vanished makes it Lost, or Expired
// when all went at the expiration time. At most one of Reconciling and Stalled is True.
import type { EngineError } from "../../engine/errors.ts";
import type { CopyObservation } from "../../engine/port.ts";
import type { GroupMemberStatus } from "../../api/virtualcopygroup.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import { classOf } from "../shared/connect.ts";
import {
  blockedState,
  copyNextStep,
  deletionRefused,
  deniedState,
  failing,
  pollMs,
  stateConditions,
  transitionEvent,
  unavailableState,
  type CopyReport,
  type CopyState,
} from "../shared/copy-state.ts";
import type { EventSpec } from "../shared/publish.ts";
import { accessDenied, lastError, type LastError, type Next } from "../shared/retry.ts";
import { namePrefixOf, releases, wasCreated, type Gathered, type Plan } from "./decide.ts";
import type { VirtualCopyGroupReason } from "./reasons.ts";

export interface Outcome {
  /** The member copies the create returned, in member order. */
  readonly created?: readonly CopyObservation[] | undefined;
  /** How many member copies this pass deleted. */
  readonly deleted?: number | undefined;
  readonly error?: EngineError | undefined;
}

export type Report = CopyReport<VirtualCopyGroupReason>;

type State = CopyState<VirtualCopyGroupReason>;

export function report(g: Gathered, plan: Plan, outcome: Outcome): Report {
  const copies = currentCopies(plan, outcome);
  const state = isDeleting(g.group.metadata) ? deletionState(g, plan, outcome) : lifeState(g, plan, outcome, copies);
  const fields = statusFields(g, plan, copies, state);
  return {
    reason: state.reason,
    message: state.message,
    fields,
    conditions: stateConditions(state, g.group.metadata.generation ?? 0),
    events: events(g, plan, state, outcome),
    next: nextStep(g, plan, state, copies, fields),
    write: !(releases(plan) && outcome.error === undefined),
  };
}

/** The member copies on the array after this pass, in index order; undefined when the pass saw none to report. */
function currentCopies(plan: Plan, outcome: Outcome): readonly CopyObservation[] | undefined {
  if (outcome.created !== undefined) return outcome.created;
  if (plan.kind === "exists" || plan.kind === "gone") return plan.copies;
  if (plan.kind === "delete" && outcome.error !== undefined) return plan.copies;
  return undefined;
}

function lifeState(g: Gathered, plan: Plan, outcome: Outcome, copies: readonly CopyObservation[] | undefined): State {
  const prefix = namePrefixOf(g.group);
  switch (plan.kind) {
    case "blocked":
      return blockedState(plan.blocked);
    case "unsupported":
      return { reason: "NotSupported", message: plan.message, mood: "stalled", ready: false };
    case "waitForMembers":
      return { reason: plan.reason, message: plan.message, mood: "stalled", ready: false };
    case "cleanup":
      return cleanupState(g, plan.copies, outcome);
    case "gone":
      return goneState(g, plan.copies, plan.missing);
    case "create":
      if (outcome.error !== undefined)
        return accessDenied(outcome.error) ? deniedState(outcome.error) : createFailed(outcome.error);
      if (copies !== undefined) return copiesState(copies);
      return creatingState(prefix);
    case "exists":
      return restoreState(g, copiesState(plan.copies));
    default:
      return creatingState(prefix);
  }
}

function creatingState(prefix: string): State {
  return {
    reason: "Creating",
    message: `creating the group's virtual copies ${prefix}*`,
    mood: "working",
    ready: false,
  };
}

function copiesState(copies: readonly CopyObservation[]): State {
  const broken = copies.filter((c) => c.synchronization?.syncState === "Broken");
  if (broken.length > 0)
    return {
      reason: "Broken",
      message: `member copies ${names(broken)} are Broken on the array; delete the group`,
      mood: "stalled",
      ready: false,
    };
  const notReady = copies.filter((c) => !memberReady(c));
  if (notReady.length > 0)
    return {
      reason: "Creating",
      message: `member copies ${names(notReady)} are not ready yet`,
      mood: "working",
      ready: false,
    };
  return {
    reason: "Idle",
    message: `all ${copies.length} member copies are ready, at one point in time`,
    mood: "ready",
    ready: true,
  };
}

/**
 * A group whose newest Restore job failed on a member is Broken, naming it: its members' bases may now hold
 * different points in time. Another Restore that succeeds clears it.
 */
function restoreState(g: Gathered, state: State): State {
  const failed = g.restoreFailed;
  if (failed === undefined || state.reason === "Broken") return state;
  return {
    reason: "Broken",
    message:
      `restore job ${failed.job} failed (${failed.message}); the members' volumes may hold different points in ` +
      `time: run another Restore of the group, or delete it`,
    mood: "stalled",
    ready: false,
  };
}

function memberReady(c: CopyObservation): boolean {
  const sync = c.synchronization?.syncState ?? "Idle";
  return sync === "Idle" || sync === "RestoreInProgress";
}

function goneState(g: Gathered, left: readonly CopyObservation[], missing: readonly string[]): State {
  const expires = g.group.status?.expirationTime;
  if (left.length === 0 && expires !== undefined && Date.parse(expires) <= g.now)
    return {
      reason: "Expired",
      message: `the array deleted the group's member copies at their expiration time ${expires}`,
      mood: "resting",
      ready: false,
    };
  return {
    reason: "Lost",
    message:
      `member copies ${missing.join(", ")} are no longer on the array; they are not re-created, as new copies ` +
      `would hold another point in time: delete the group`,
    mood: "stalled",
    ready: false,
  };
}

function cleanupState(g: Gathered, leftovers: readonly CopyObservation[], outcome: Outcome): State {
  const previous = findCondition(g.group.status?.conditions, "Ready")?.message ?? "the group copy failed";
  const cause = previous.split("; ")[0] ?? previous;
  const broken = (message: string, error?: EngineError): State => ({
    reason: "Broken",
    message,
    mood: "stalled",
    ready: false,
    ...(error === undefined ? {} : { error }),
  });
  if (outcome.error !== undefined)
    return broken(`${cause}; cannot delete the member copies it left (${outcome.error.message})`, outcome.error);
  if (leftovers.length > 0) return broken(`${cause}; the ${leftovers.length} member copies it left were deleted`);
  const settled = previous.endsWith("were deleted") || previous.endsWith("nothing of it is on the array");
  return broken(settled ? previous : `${cause}; nothing of it is on the array`);
}

function createFailed(e: EngineError): State {
  if (e.kind !== "final") return unavailableState(e);
  if (e.code === "Unsupported")
    return { reason: "NotSupported", message: e.message, mood: "stalled", ready: false, error: e };
  if (e.code === "NotFound")
    return { reason: "SourceNotFound", message: e.message, mood: "stalled", ready: false, error: e };
  return {
    reason: "Broken",
    message: `the group copy failed: ${e.message}`,
    mood: "stalled",
    ready: false,
    error: e,
  };
}

function deletionState(g: Gathered, plan: Plan, outcome: Outcome): State {
  const e = outcome.error;
  if (e !== undefined) {
    return deletionRefused(e)
      ? {
          reason: "DeletionRefused",
          message: `the array refuses to delete a member copy: ${e.message}`,
          mood: "working",
          ready: false,
          error: e,
        }
      : { reason: "ArrayUnavailable", message: e.message, mood: "working", ready: false, error: e };
  }
  if (plan.kind === "blocked")
    return {
      reason: "DeletionBlocked",
      message:
        `cannot reach the array to delete the member copies (${plan.blocked.message}); fix that, or remove the ` +
        `finalizer arraycopy.io/array-object to abandon them`,
      mood: "stalled",
      ready: false,
    };
  const waiting =
    plan.kind === "wait" ? `, waiting ${Math.ceil(plan.ms / 1000)} s for an unconfirmed create to settle` : "";
  return {
    reason: "Deleting",
    message: `deleting the group's member copies ${namePrefixOf(g.group)}*${waiting}`,
    mood: "working",
    ready: false,
  };
}

function names(copies: readonly CopyObservation[]): string {
  return copies.map((c) => c.name).join(", ");
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : metaTime(new Date(ms));
}

/** The claim each member came from: the plan's resolution while creating, else what the status recorded. */
function claimsOf(g: Gathered, plan: Plan): Map<string, string> {
  const out = new Map<string, string>();
  for (const m of g.group.status?.members ?? [])
    if (m.persistentVolumeClaimName !== undefined) out.set(m.sourceVolume, m.persistentVolumeClaimName);
  if (plan.kind === "create") for (const m of plan.members) if (m.claim !== undefined) out.set(m.volume, m.claim);
  return out;
}

function memberStatus(c: CopyObservation, claims: Map<string, string>): GroupMemberStatus {
  const claim = claims.get(c.source);
  return {
    arrayName: c.name,
    sourceVolume: c.source,
    ...(claim === undefined ? {} : { persistentVolumeClaimName: claim }),
    ...(c.synchronization === undefined ? {} : { syncState: c.synchronization.syncState }),
    ready: memberReady(c),
  };
}

function statusFields(
  g: Gathered,
  plan: Plan,
  copies: readonly CopyObservation[] | undefined,
  state: State,
): Record<string, unknown> {
  const prev = g.group.status;
  const f: Record<string, unknown> = {
    observedGeneration: g.group.metadata.generation ?? 0,
    namePrefix: namePrefixOf(g.group),
  };
  const className = classOf(g.link)?.name ?? prev?.copyClassName;
  if (className !== undefined) f.copyClassName = className;
  if (g.group.spec.members.volumeSet !== undefined) f.volumeSet = g.group.spec.members.volumeSet;
  const unasked = !g.link.ok && g.link.blocked.reason !== "ClassNotFound" && g.link.blocked.reason !== "NoDefaultClass";
  if (unasked && prev !== undefined) {
    // The array could not be asked: what was observed last stays (apply would otherwise remove it).
    const { conditions: _c, observedGeneration: _g, lastError: _e, ...observed } = prev;
    Object.assign(f, observed);
  } else if (copies !== undefined && copies.length > 0) {
    const claims = claimsOf(g, plan);
    const present = copies.map((c) => memberStatus(c, claims));
    const gone = (prev?.members ?? [])
      .filter((m) => !copies.some((c) => c.name === m.arrayName))
      .map((m) => ({ ...m, ready: false }));
    const members = [...present, ...gone].sort((a, b) => indexOf(a.arrayName) - indexOf(b.arrayName));
    const first = copies[0];
    Object.assign(f, {
      members,
      memberCount: members.length,
      readyMembers: members.filter((m) => m.ready).length,
      whenSynced: iso(first?.synchronization?.whenSynced) ?? prev?.whenSynced,
      creationTime: iso(first?.createdAt) ?? prev?.creationTime,
      expirationTime: iso(first?.expiresAt),
      retentionTime: iso(first?.retainedUntil),
    });
  } else if (prev !== undefined && wasCreated(g.group)) {
    // Every member copy is gone: keep what identifies what the group was.
    const { members, whenSynced, creationTime, expirationTime, retentionTime } = prev;
    Object.assign(f, {
      members: members?.map((m) => ({ ...m, ready: false })),
      memberCount: members?.length,
      readyMembers: 0,
      whenSynced,
      creationTime,
      expirationTime,
      retentionTime,
    });
  }
  if (failing(state)) f.lastError = lastError(prev?.lastError, state.message, state.error?.arrayCode, g.now);
  for (const k of Object.keys(f)) if (f[k] === undefined) Reflect.deleteProperty(f, k);
  return f;
}

/** A member's index from its array name (prefix + index). */
function indexOf(arrayName: string): number {
  const m = /(\d+)$/.exec(arrayName);
  return m === null ? Number.MAX_SAFE_INTEGER : Number(m[1]);
}

function events(g: Gathered, plan: Plan, state: State, outcome: Outcome): EventSpec[] {
  const prev = findCondition(g.group.status?.conditions, "Ready");
  const out: EventSpec[] = [];
  const deleted = outcome.deleted ?? 0;
  if (deleted > 0)
    out.push({
      type: "Normal",
      reason: "Deleted",
      note:
        plan.kind === "cleanup"
          ? `Deleted ${deleted} member copies left on the array by the failed group copy`
          : `Deleted ${deleted} member copies from the array`,
    });
  if (outcome.created !== undefined && !state.ready)
    out.push({
      type: "Normal",
      reason: "Created",
      note: `Created ${outcome.created.length} member copies ${namePrefixOf(g.group)}* at one point in time`,
    });
  const transition = transitionEvent(prev, state, state.message);
  if (transition !== undefined) out.push(transition);
  return out;
}

function nextStep(
  g: Gathered,
  plan: Plan,
  state: State,
  copies: readonly CopyObservation[] | undefined,
  fields: Record<string, unknown>,
): Next {
  if (plan.kind === "wait") return { kind: "after", ms: plan.ms };
  // A failed create may have left member copies: look again at once to delete them.
  if (plan.kind === "create" && state.reason === "Broken") return { kind: "after", ms: pollMs };
  const first = copies?.[0];
  return copyNextStep(state, g.now, fields.lastError as LastError | undefined, {
    retainedUntil: first?.retainedUntil,
    expiresAt: first?.expiresAt,
  });
}
