// The state a virtual copy kind's status.ts computes (a VirtualCopy, a VirtualCopyGroup) and what follows from it
// the same way for each: the kstatus conditions, the transition's event, whether the state is a failure (it
// records status.lastError, warns once and is looked at again), and when to look again.
import type { EngineError } from "../../engine/errors.ts";
import type { Condition } from "../../api/common.ts";
import type { ConditionInput } from "../../kube/conditions.ts";
import type { Blocked } from "./connect.ts";
import type { EventSpec } from "./publish.ts";
import {
  accessDenied,
  accessDeniedRecheckMs,
  stalledRecheckMaxMs,
  transientRecheckMaxMs,
  type LastError,
  type Next,
} from "./retry.ts";

/** ready: usable; working: on its way; stalled: needs a change from outside; resting: nothing more will happen. */
export type Mood = "ready" | "working" | "stalled" | "resting";

export interface CopyState<R extends string> {
  readonly reason: R;
  readonly message: string;
  readonly mood: Mood;
  readonly ready: boolean;
  readonly error?: EngineError | undefined;
}

/** What a copy kind's status.ts hands its reconciler. */
export interface CopyReport<R extends string> {
  readonly reason: R;
  readonly message: string;
  readonly fields: Record<string, unknown>;
  readonly conditions: ConditionInput[];
  readonly events: EventSpec[];
  readonly next: Next;
  /** False when the resource is about to go (finalizer removed): nothing to write. */
  readonly write: boolean;
}

export const pollMs = 1_000;
export const maxWaitMs = 60 * 60_000;

export function deniedState(e: EngineError): CopyState<"ArrayAccessDenied"> {
  return { reason: "ArrayAccessDenied", message: e.message, mood: "stalled", ready: false, error: e };
}

export function unavailableState(e: EngineError): CopyState<"ArrayUnavailable"> {
  return { reason: "ArrayUnavailable", message: e.message, mood: "working", ready: false, error: e };
}

/** A link that did not reach the array: no class, no engine, or no answer (or a refusal of our credentials). */
export function blockedState(b: Blocked): CopyState<Blocked["reason"] | "ArrayAccessDenied"> {
  if (b.reason === "ArrayUnavailable") return accessDenied(b.error) ? deniedState(b.error) : unavailableState(b.error);
  return { reason: b.reason, message: b.message, mood: "stalled", ready: false };
}

/** The array's refusals of a delete that a later retry can overcome (children, retention, in use, busy). */
export function deletionRefused(e: EngineError): boolean {
  return e.code === "HasChildren" || e.code === "Retained" || e.code === "InUse" || e.code === "Busy";
}

/** A state that records status.lastError, warns once and is looked at again. */
export function failing(state: CopyState<string>): boolean {
  return state.mood === "stalled" || state.reason === "ArrayUnavailable" || state.reason === "DeletionRefused";
}

/** Ready, Reconciling and Stalled from the state. */
export function stateConditions(state: CopyState<string>, generation: number): ConditionInput[] {
  const cond = (type: string, on: boolean): ConditionInput => ({
    type,
    status: on ? "True" : "False",
    reason: state.reason,
    message: state.message,
    observedGeneration: generation,
  });
  return [
    cond("Ready", state.ready),
    cond("Reconciling", state.mood === "working"),
    cond("Stalled", state.mood === "stalled"),
  ];
}

/** The event of a change of the Ready condition: Ready, Expired, or a Warning named by the failure. */
export function transitionEvent(
  prev: Condition | undefined,
  state: CopyState<string>,
  readyNote: string,
): EventSpec | undefined {
  const changed = prev?.reason !== state.reason || (prev.status === "True") !== state.ready;
  if (!changed) return undefined;
  if (state.ready && prev?.status !== "True") return { type: "Normal", reason: "Ready", note: readyNote };
  if (state.reason === "Expired") return { type: "Normal", reason: "Expired", note: state.message };
  if (failing(state)) return { type: "Warning", reason: state.reason, note: state.message };
  return undefined;
}

/**
 * When to look again at a copy in this state: at the end of its retention (a refused delete), after a failure as
 * long as it has lasted, soon while working, at its expiration, or not until something changes.
 */
export function copyNextStep(
  state: CopyState<string>,
  now: number,
  lastErr: LastError | undefined,
  times: { readonly retainedUntil?: number | undefined; readonly expiresAt?: number | undefined },
): Next {
  const until = (at: number): Next => ({ kind: "after", ms: Math.min(maxWaitMs, Math.max(pollMs, at - now + pollMs)) });
  if (accessDenied(state.error)) return { kind: "after", ms: accessDeniedRecheckMs };
  if (state.reason === "DeletionRefused" && state.error?.code === "Retained" && times.retainedUntil !== undefined)
    return until(times.retainedUntil);
  if (failing(state) && lastErr !== undefined) {
    const since = Date.parse(lastErr.time);
    return { kind: "recheck", since, maxMs: state.mood === "stalled" ? stalledRecheckMaxMs : transientRecheckMaxMs };
  }
  if (state.mood === "working") return { kind: "after", ms: pollMs };
  if (times.expiresAt !== undefined) return until(times.expiresAt);
  return { kind: "done" };
}
