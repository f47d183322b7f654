// What a reconciler does next, as its pure status code says it. Every value is a true Result of the controller:
// - done: nothing to do until the object (or a watched one) changes;
// - after: come back after ms (a running task, an expiration, a wait for an uncertain create);
// - recheck: the state depends on something no watch brings (a PVC, the array, a name another owner holds): look
//   again after as long as it has lasted, between recheckMinMs and its cap. The age comes from the status
//   (status.lastError's time, kept while the failure stays the same), so it survives restarts and never becomes
//   the controller's endless error backoff.
// No copy state is terminal (a TerminalError): each can be moved by something no watch brings — a lost copy that
// the array shows again, a name its other owner frees — so each is looked at again, at most every few minutes.
import { metaTime } from "../../kube/conditions.ts";
import { after, done, type Result } from "../../kube/controller.ts";

export const recheckMinMs = 1_000;
/** The cap for a Stalled state: it needs a change from outside. */
export const stalledRecheckMaxMs = 5 * 60_000;
/** The cap for a transient failure (the array did not answer): it may clear on its own. */
export const transientRecheckMaxMs = 60_000;

export type Next =
  | { readonly kind: "done" }
  | { readonly kind: "after"; readonly ms: number }
  | { readonly kind: "recheck"; readonly since: number; readonly maxMs: number };

/** How long to wait before looking again at a state that began at `since`: its age, clamped. */
export function recheckDelayMs(since: number, now: number, maxMs: number): number {
  return Math.min(maxMs, Math.max(recheckMinMs, now - since));
}

export function toResult(next: Next, now: number): Result {
  switch (next.kind) {
    case "done":
      return done;
    case "after":
      return after(next.ms);
    case "recheck":
      return after(recheckDelayMs(next.since, now, next.maxMs));
  }
}

/**
 * How long a copy whose array refuses access (AccessDenied: wrong credentials, untrusted certificate) waits before
 * it looks again: no backoff that grows for ever and no hot loop. A change of its class wakes it at once; a fixed
 * Secret is noticed by the engine registry (credentialsRecheckMs) and then here.
 */
export const accessDeniedRecheckMs = 30_000;

export function accessDenied(e: { readonly code: string } | undefined): boolean {
  return e?.code === "AccessDenied";
}

export interface LastError {
  readonly code?: number | undefined;
  readonly message: string;
  readonly time: string;
}

/** status.lastError for a failure; its time is kept while the message stays the same, so a retry writes nothing. */
export function lastError(
  previous: LastError | undefined,
  message: string,
  arrayCode: number | undefined,
  now: number,
): LastError {
  return {
    ...(arrayCode === undefined ? {} : { code: arrayCode }),
    message,
    time: previous?.message === message ? previous.time : metaTime(new Date(now)),
  };
}
