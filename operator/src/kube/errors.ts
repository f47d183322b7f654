// API error helpers over client-node v2's ApiException, with apimachinery's meaning of each status
// (k8s.io/apimachinery/pkg/api/errors).
//
// What the library gives us: generated clients throw `ApiException(code, message, body, headers)` where `body` is
// the response text (a JSON metav1.Status, or undefined for 401) — not a parsed object — and `message` embeds the
// body and all headers. Network failures surface as undici's `TypeError("fetch failed")` with the socket error in
// `cause`. So we parse the Status ourselves and never print the exception whole: `summarise` is the one way an
// API error reaches a log, an event or a condition message.

import { ApiException } from "@kubernetes/client-node";

/** The parts of a metav1.Status we use. */
export interface ApiStatus {
  readonly code: number;
  readonly reason: string;
  readonly message: string;
  readonly retryAfterSeconds?: number;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

function parseBody(body: unknown): Record<string, unknown> | undefined {
  if (isRecord(body)) return body;
  if (typeof body !== "string" || body === "") return undefined;
  try {
    const parsed: unknown = JSON.parse(body);
    return isRecord(parsed) ? parsed : undefined;
  } catch {
    // A proxy or load balancer in front of the apiserver may answer with HTML or plain text.
    return undefined;
  }
}

/** The Status carried by an API error, or undefined when `e` is not an ApiException. */
export function apiStatus(e: unknown): ApiStatus | undefined {
  if (!(e instanceof ApiException)) return undefined;
  const code: number = e.code;
  const body = parseBody(e.body);
  const reason = typeof body?.["reason"] === "string" ? body["reason"] : "";
  const message = typeof body?.["message"] === "string" ? body["message"] : plainBody(e.body);
  const details = body?.["details"];
  const retry = isRecord(details) ? details["retryAfterSeconds"] : undefined;
  return typeof retry === "number" ? { code, reason, message, retryAfterSeconds: retry } : { code, reason, message };
}

/** A non-JSON body, shortened: it is usually an HTML error page we only want a hint of. */
function plainBody(body: unknown): string {
  if (typeof body !== "string") return "";
  const oneLine = body.replace(/\s+/g, " ").trim();
  return oneLine.length > 200 ? `${oneLine.slice(0, 200)}…` : oneLine;
}

function hasCode(e: unknown, code: number): boolean {
  return e instanceof ApiException && e.code === code;
}

/** Reasons apimachinery knows; a 409 with any of them other than Conflict is not a conflict. */
const knownReasons = new Set([
  "Unauthorized",
  "Forbidden",
  "NotFound",
  "AlreadyExists",
  "Conflict",
  "Gone",
  "Invalid",
  "ServerTimeout",
  "StoreReadError",
  "Timeout",
  "TooManyRequests",
  "BadRequest",
  "MethodNotAllowed",
  "NotAcceptable",
  "RequestEntityTooLarge",
  "UnsupportedMediaType",
  "InternalError",
  "Expired",
  "ServiceUnavailable",
]);

export const isNotFound = (e: unknown): boolean => hasCode(e, 404);
export const isForbidden = (e: unknown): boolean => hasCode(e, 403);
export const isGone = (e: unknown): boolean => hasCode(e, 410);
export const isInvalid = (e: unknown): boolean => hasCode(e, 422);
export const isTooManyRequests = (e: unknown): boolean => hasCode(e, 429);

/** 409 AlreadyExists: a create found the name taken. */
export function isAlreadyExists(e: unknown): boolean {
  return apiStatus(e)?.reason === "AlreadyExists";
}

/** 409 Conflict: an update lost an optimistic-concurrency race; re-read and try again. */
export function isConflict(e: unknown): boolean {
  const s = apiStatus(e);
  if (s === undefined) return false;
  return s.reason === "Conflict" || (s.code === 409 && !knownReasons.has(s.reason));
}

/** The generic text apimachinery's NewGenericServerResponse gives a 422; a failed JSON Patch answers with it. */
const genericInvalidMessage = "the server rejected our request due to an error in our request";

/**
 * A JSON Patch `test` op failed: the guarded field changed under us; for our guarded patches it means the same as
 * a conflict. Checked on kube-apiserver 1.36: it answers 422 reason Invalid with only the generic message above
 * and empty details (the patch library's "testing value … failed" text is dropped), whereas a schema or CEL
 * rejection names the object ("… is invalid: spec.x …"). Any JSON Patch that could not be applied looks the same,
 * which for our test-then-replace patches can only be the guard. The older wording is still accepted.
 */
export function isPatchTestFailed(e: unknown): boolean {
  const s = apiStatus(e);
  if (s?.code !== 422) return false;
  return s.message === genericInvalidMessage || /testing value .* failed/i.test(s.message);
}

/** Socket-level failures worth retrying: the apiserver restarting, a network blip, a slow response. */
const networkCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ETIMEDOUT",
  "EPIPE",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
  "UND_ERR_SOCKET",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CLOSED",
]);

/** The socket error code somewhere in the cause chain (undici wraps it in "fetch failed"). */
export function networkErrorCode(e: unknown): string | undefined {
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && isRecord(cur); depth++) {
    const code = cur["code"];
    if (typeof code === "string" && networkCodes.has(code)) return code;
    cur = cur["cause"];
  }
  return undefined;
}

/** Worth retrying with backoff, unchanged: 429, any 5xx, or a network error. */
export function isRetryable(e: unknown): boolean {
  if (e instanceof ApiException) return e.code === 429 || (e.code >= 500 && e.code <= 599);
  return networkErrorCode(e) !== undefined;
}

/** How long the server asked us to wait (Retry-After header or Status details), if it did. */
export function retryAfterMs(e: unknown): number | undefined {
  if (!(e instanceof ApiException)) return undefined;
  const fromStatus = apiStatus(e)?.retryAfterSeconds;
  if (fromStatus !== undefined) return fromStatus * 1000;
  const headers: Record<string, string> | undefined = isRecord(e.headers) ? e.headers : undefined;
  const header = headers?.["retry-after"] ?? headers?.["Retry-After"];
  const seconds = header === undefined ? Number.NaN : Number(header);
  return Number.isFinite(seconds) && seconds >= 0 ? seconds * 1000 : undefined;
}

/**
 * One line for logs, events and conditions: "409 Conflict: <message>" for API errors, "network ECONNREFUSED:
 * <message>" for socket errors, "<message>" otherwise. Never the headers or the raw exception text.
 */
export function summarise(e: unknown): string {
  const s = apiStatus(e);
  if (s !== undefined) {
    const reason = s.reason === "" ? "" : ` ${s.reason}`;
    const message = s.message === "" ? "" : `: ${s.message}`;
    return `${s.code}${reason}${message}`;
  }
  const net = networkErrorCode(e);
  const message = e instanceof Error ? e.message : String(e);
  return net === undefined ? message : `network ${net}: ${causeMessage(e) ?? message}`;
}

/** The innermost message, which for undici's "fetch failed" is the useful one ("connect ECONNREFUSED …"). */
function causeMessage(e: unknown): string | undefined {
  let found: string | undefined;
  let cur: unknown = e;
  for (let depth = 0; depth < 5 && cur instanceof Error; depth++) {
    found = cur.message;
    cur = cur.cause;
  }
  return found;
}
