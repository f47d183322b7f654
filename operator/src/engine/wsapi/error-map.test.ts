// The WSAPI → port error table: each row says why the kind matters to a controller.
import { describe, expect, it } from "vitest";
import { transportError, wsapiError } from "./error-map.ts";

const read = { idempotent: true };
const write = { idempotent: false };

describe("wsapiError", () => {
  const cases = [
    {
      name: "EXISTENT_VOL 22 is final AlreadyExists (another owner holds the name)",
      status: 409,
      code: 22,
      nature: write,
      want: ["AlreadyExists", "final", "EXISTENT_VOL"],
    },
    {
      name: "NON_EXISTENT_VOL 23 is final NotFound",
      status: 404,
      code: 23,
      nature: write,
      want: ["NotFound", "final", "NON_EXISTENT_VOL"],
    },
    {
      name: "HAS_RO_CHILD 25 is final HasChildren (delete the snapshots first)",
      status: 409,
      code: 25,
      nature: read,
      want: ["HasChildren", "final", "HAS_RO_CHILD"],
    },
    {
      name: "HAS_CHILD 32 is final HasChildren",
      status: 409,
      code: 32,
      nature: read,
      want: ["HasChildren", "final", "HAS_CHILD"],
    },
    { name: "IN_USE 34 is final InUse", status: 409, code: 34, nature: write, want: ["InUse", "final", "IN_USE"] },
    {
      name: "97 (export of a copy target) is final InUse",
      status: 409,
      code: 97,
      nature: write,
      want: ["InUse", "final", "INV_OPERATION_VLUN_PCOPY_TARGET_VV"],
    },
    {
      name: "29 / 151 (online copy running, cinder) are Busy, final until it ends",
      status: 409,
      code: 151,
      nature: read,
      want: ["Busy", "retryable", undefined],
    },
    {
      name: "NON_EXISTENT_TASK 145 is NotFound",
      status: 404,
      code: 145,
      nature: read,
      want: ["NotFound", "final", "NON_EXISTENT_TASK"],
    },
    {
      name: "185 stop-promote with none running is InvalidState",
      status: 409,
      code: 185,
      nature: write,
      want: ["InvalidState", "final", "INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS"],
    },
    {
      name: "INT_SERV_ERR 1 on a create is uncertain: it may have been applied",
      status: 500,
      code: 1,
      nature: write,
      want: ["Internal", "uncertain", "INT_SERV_ERR"],
    },
    {
      name: "INT_SERV_ERR 1 on a read is retryable: nothing changed",
      status: 500,
      code: 1,
      nature: read,
      want: ["Internal", "retryable", "INT_SERV_ERR"],
    },
    {
      name: "503 is retryable Busy whatever the request: the array did not take it",
      status: 503,
      code: 1,
      nature: write,
      want: ["Busy", "retryable", "INT_SERV_ERR"],
    },
    {
      name: "an unpublished number on 409 is a final InvalidState, number kept",
      status: 409,
      code: 9001,
      nature: write,
      want: ["InvalidState", "final", undefined],
    },
    {
      name: "an unpublished number on 404 is NotFound",
      status: 404,
      code: 9002,
      nature: write,
      want: ["NotFound", "final", undefined],
    },
    {
      name: "an unknown 5xx without a body on a write is uncertain",
      status: 502,
      code: undefined,
      nature: write,
      want: ["Internal", "uncertain", undefined],
    },
  ] as const;
  for (const c of cases) {
    it(c.name, () => {
      const e = wsapiError(c.status, c.code, "detail", c.nature);
      expect([e.code, e.kind, e.arraySymbol]).toEqual(c.want);
      expect(e.arrayCode).toBe(c.code);
      expect(e.message).toBe(`detail (${c.code === undefined ? `HTTP ${c.status}` : String(c.code)})`);
    });
  }
});

describe("transportError", () => {
  it("a lost answer to a create is uncertain: observe before asking again", () => {
    expect(transportError("reset", write, false, undefined)).toMatchObject({ code: "Unavailable", kind: "uncertain" });
  });
  it("a timed-out read is retryable", () => {
    expect(transportError("slow", read, true, undefined)).toMatchObject({ code: "Timeout", kind: "retryable" });
  });
});
