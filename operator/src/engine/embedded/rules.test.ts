import { describe, expect, it } from "vitest";
import { EngineError } from "../errors.ts";
import { checkLifetime, checkName, checkSize } from "./rules.ts";
import { allowed } from "./transitions.ts";

function refusal(f: () => void): string | undefined {
  try {
    f();
    return undefined;
  } catch (e: unknown) {
    return e instanceof EngineError ? (e.arraySymbol ?? e.code) : "not an engine error";
  }
}

describe("array input rules", () => {
  const cases: { name: string; check: () => void; refusal: string | undefined }[] = [
    {
      name: "31 characters is the array's limit",
      check: () => {
        checkName("a".repeat(31));
      },
      refusal: undefined,
    },
    {
      name: "32 characters is too long (57)",
      check: () => {
        checkName("a".repeat(32));
      },
      refusal: "INV_INPUT_EXCEEDS_LENGTH",
    },
    {
      name: "a slash is illegal (69)",
      check: () => {
        checkName("a/b");
      },
      refusal: "INV_INPUT_ILLEGAL_CHAR",
    },
    {
      name: "dots, dashes and underscores are legal",
      check: () => {
        checkName("v-1.snap_2");
      },
      refusal: undefined,
    },
    {
      name: "expiration of 0 hours is below range",
      check: () => {
        checkLifetime(0, undefined);
      },
      refusal: "INV_INPUT_BELOW_RANGE",
    },
    {
      name: "expiration over 5 years exceeds range",
      check: () => {
        checkLifetime(43_801, undefined);
      },
      refusal: "INV_INPUT_EXCEEDS_RANGE",
    },
    {
      name: "retention above expiration is refused",
      check: () => {
        checkLifetime(2, 3);
      },
      refusal: "INV_INPUT_RETAIN_GT_EXPIRE",
    },
    {
      name: "retention equal to expiration is fine",
      check: () => {
        checkLifetime(3, 3);
      },
      refusal: undefined,
    },
    {
      name: "sizes are whole MiB",
      check: () => {
        checkSize(1000);
      },
      refusal: "INV_INPUT",
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(refusal(c.check)).toBe(c.refusal);
    });
  }
});

describe("SyncState transitions (DOMAIN.md §2.3)", () => {
  const cases: { name: string; kind: "Physical" | "Virtual"; from: string; to: string; ok: boolean }[] = [
    { name: "a queued physical copy starts", kind: "Physical", from: "Initialized", to: "ResyncInProgress", ok: true },
    {
      name: "a broken copy cannot be resynchronised",
      kind: "Physical",
      from: "Broken",
      to: "ResyncInProgress",
      ok: false,
    },
    { name: "start copy runs from Frozen", kind: "Physical", from: "Frozen", to: "CopyInProgress", ok: true },
    { name: "a finished copy can be detached", kind: "Physical", from: "Frozen", to: "gone", ok: true },
    { name: "a virtual copy is Idle once made", kind: "Virtual", from: "ResyncInProgress", to: "Idle", ok: true },
    { name: "a halted restore leaves Broken", kind: "Virtual", from: "RestoreInProgress", to: "Broken", ok: true },
    { name: "a virtual copy is never Frozen", kind: "Virtual", from: "Idle", to: "Frozen", ok: false },
  ];
  for (const c of cases) {
    it(c.name, () => {
      expect(allowed(c.kind, c.from as never, c.to as never)).toBe(c.ok);
    });
  }
});
