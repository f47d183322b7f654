import { ApiException } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  apiStatus,
  isAlreadyExists,
  isConflict,
  isForbidden,
  isGone,
  isInvalid,
  isNotFound,
  isPatchTestFailed,
  isRetryable,
  isTooManyRequests,
  networkErrorCode,
  retryAfterMs,
  summarise,
} from "./errors.ts";

/** An ApiException as client-node v2's generated clients build it: the body is the response text. */
function apiError(
  code: number,
  reason: string,
  message: string,
  extra: Record<string, unknown> = {},
): ApiException<string> {
  const status = { kind: "Status", apiVersion: "v1", metadata: {}, status: "Failure", code, reason, message, ...extra };
  return new ApiException(code, "Unknown API Status Code!", JSON.stringify(status), {
    "content-type": "application/json",
    "audit-id": "x",
  });
}

/** undici's shape for a refused connection: TypeError("fetch failed") caused by the socket error. */
function fetchFailed(code: string, message: string): TypeError {
  return new TypeError("fetch failed", { cause: Object.assign(new Error(message), { code }) });
}

type Predicate = (e: unknown) => boolean;
const predicates: Record<string, Predicate> = {
  isNotFound,
  isConflict,
  isAlreadyExists,
  isGone,
  isInvalid,
  isForbidden,
  isTooManyRequests,
  isRetryable,
  isPatchTestFailed,
};

describe("classification", () => {
  const cases: { name: string; why: string; err: unknown; yes: string[] }[] = [
    {
      name: "404 NotFound",
      why: "a deleted object ends a reconcile quietly",
      err: apiError(404, "NotFound", 'virtualcopies "a" not found'),
      yes: ["isNotFound"],
    },
    {
      name: "409 Conflict",
      why: "a stale update is re-read and retried",
      err: apiError(409, "Conflict", "the object has been modified"),
      yes: ["isConflict"],
    },
    {
      name: "409 AlreadyExists",
      why: "a create that raced is not a conflict",
      err: apiError(409, "AlreadyExists", 'events "e" already exists'),
      yes: ["isAlreadyExists"],
    },
    {
      name: "409 with an unknown reason",
      why: "apimachinery treats it as a conflict",
      err: apiError(409, "SomethingNew", "x"),
      yes: ["isConflict"],
    },
    {
      name: "410 Expired",
      why: "a watch whose resourceVersion is too old must relist",
      err: apiError(410, "Expired", "too old resource version"),
      yes: ["isGone"],
    },
    {
      name: "422 Invalid",
      why: "a rejected object will not pass by retrying",
      err: apiError(422, "Invalid", "spec.x: Invalid value"),
      yes: ["isInvalid"],
    },
    {
      name: "422 failed patch test (as kube-apiserver 1.36 answers)",
      why: "a guarded finalizer patch lost a race",
      err: apiError(422, "Invalid", "the server rejected our request due to an error in our request", { details: {} }),
      yes: ["isInvalid", "isPatchTestFailed"],
    },
    {
      name: "422 failed patch test (library wording)",
      why: "servers that pass the patch error through",
      err: apiError(422, "", "Testing value /metadata/resourceVersion failed"),
      yes: ["isInvalid", "isPatchTestFailed"],
    },
    {
      name: "403 Forbidden",
      why: "missing RBAC is reported, not hammered",
      err: apiError(403, "Forbidden", "cannot patch"),
      yes: ["isForbidden"],
    },
    {
      name: "429 TooManyRequests",
      why: "priority and fairness asked us to slow down",
      err: apiError(429, "TooManyRequests", "slow down"),
      yes: ["isTooManyRequests", "isRetryable"],
    },
    {
      name: "500 InternalError",
      why: "server errors are transient",
      err: apiError(500, "InternalError", "etcd"),
      yes: ["isRetryable"],
    },
    {
      name: "503 ServiceUnavailable",
      why: "an apiserver restarting comes back",
      err: apiError(503, "ServiceUnavailable", "x"),
      yes: ["isRetryable"],
    },
    {
      name: "401 with no body",
      why: "client-node throws 401 with an undefined body",
      err: new ApiException(401, "Unauthorized", undefined, {}),
      yes: [],
    },
    {
      name: "connection refused",
      why: "the apiserver is down; retry with backoff",
      err: fetchFailed("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:6443"),
      yes: ["isRetryable"],
    },
    {
      name: "headers timeout",
      why: "a slow response is transient",
      err: fetchFailed("UND_ERR_HEADERS_TIMEOUT", "Headers Timeout Error"),
      yes: ["isRetryable"],
    },
    {
      name: "a plain bug",
      why: "a TypeError of our own is not retryable",
      err: new TypeError("x is undefined"),
      yes: [],
    },
    { name: "not an error at all", why: "thrown strings must not crash the helpers", err: "boom", yes: [] },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      const got = Object.entries(predicates)
        .filter(([, p]) => p(c.err))
        .map(([n]) => n);
      expect(got.sort()).toEqual([...c.yes].sort());
    });
  }
});

describe("summarise", () => {
  const cases: { name: string; why: string; err: unknown; want: string }[] = [
    {
      name: "API status",
      why: "code, reason and message in one line",
      err: apiError(404, "NotFound", 'virtualcopies.arraycopy.io "a" not found'),
      want: '404 NotFound: virtualcopies.arraycopy.io "a" not found',
    },
    {
      name: "no reason",
      why: "failed patch tests carry only a message",
      err: apiError(422, "", "Testing value /x failed"),
      want: "422: Testing value /x failed",
    },
    {
      name: "401 without body",
      why: "nothing but the code is known",
      err: new ApiException(401, "Unauthorized", undefined, {}),
      want: "401",
    },
    {
      name: "HTML body",
      why: "a proxy's error page is shortened to one line",
      err: new ApiException(502, "x", "<html>\n <body>Bad   Gateway</body>\n</html>", {}),
      want: "502: <html> <body>Bad Gateway</body> </html>",
    },
    {
      name: "network",
      why: "the socket error, not undici's bare 'fetch failed'",
      err: fetchFailed("ECONNREFUSED", "connect ECONNREFUSED 127.0.0.1:6443"),
      want: "network ECONNREFUSED: connect ECONNREFUSED 127.0.0.1:6443",
    },
    {
      name: "plain error",
      why: "other errors keep their message",
      err: new Error("cannot resolve source"),
      want: "cannot resolve source",
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      expect(summarise(c.err)).toBe(c.want);
    });
  }

  it("never includes the headers the exception message embeds", () => {
    const e = apiError(500, "InternalError", "boom");
    expect(e.message).toContain("audit-id");
    expect(summarise(e)).not.toContain("audit-id");
  });
});

describe("details", () => {
  it("parses the Status, including retryAfterSeconds", () => {
    const e = apiError(429, "TooManyRequests", "slow down", { details: { retryAfterSeconds: 3 } });
    expect(apiStatus(e)).toEqual({ code: 429, reason: "TooManyRequests", message: "slow down", retryAfterSeconds: 3 });
    expect(retryAfterMs(e)).toBe(3000);
  });

  it("falls back to the Retry-After header", () => {
    const e = new ApiException(503, "x", "", { "retry-after": "2" });
    expect(retryAfterMs(e)).toBe(2000);
    expect(retryAfterMs(apiError(500, "InternalError", "x"))).toBeUndefined();
    expect(retryAfterMs(new Error("x"))).toBeUndefined();
  });

  it("finds the socket code through the cause chain", () => {
    expect(networkErrorCode(new Error("outer", { cause: fetchFailed("ECONNRESET", "read ECONNRESET") }))).toBe(
      "ECONNRESET",
    );
    expect(networkErrorCode(new Error("x"))).toBeUndefined();
  });
});
