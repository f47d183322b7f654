// What a reconciler does next, as its pure status code says it: done, come back after a while, or retry with the
// controller's exponential backoff (a thrown RetryLater, after the status was written).
import { metaTime } from "../../kube/conditions.ts";
import { after, done, type Result } from "../../kube/controller.ts";

export class RetryLater extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RetryLater";
  }
}

export type Next =
  | { readonly kind: "done" }
  | { readonly kind: "after"; readonly ms: number }
  | { readonly kind: "retry"; readonly message: string };

export function toResult(next: Next): Result {
  switch (next.kind) {
    case "done":
      return done;
    case "after":
      return after(next.ms);
    case "retry":
      throw new RetryLater(next.message);
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
