import { describe, expect, it } from "vitest";
import {
  copyObservation,
  created,
  deleting,
  embeddedClass,
  readyCondition,
  vcArrayName,
  virtualCopy,
  withFinalizer,
  withHours,
  withIntent,
  withPolicy,
} from "../../../../test/support/builders.ts";
import { decide, uncertaintyWindowMs, type Gathered } from "./decide.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const gathered = (g: Partial<Gathered> & Pick<Gathered, "vc">): Gathered => ({ now, cls: embeddedClass, ...g });
const source = { ok: true, volume: "data" } as const;

describe("VirtualCopy decide", () => {
  it("a new copy gets the finalizer and the create intent, then one create with the owner tag and hours", () => {
    const plan = decide(gathered({ vc: virtualCopy("snap", withHours(24, 12)), source }));
    expect(plan).toEqual({
      addFinalizer: true,
      recordIntent: true,
      removeFinalizer: false,
      waitMs: undefined,
      engine: {
        kind: "create",
        request: {
          name: vcArrayName,
          source: "data",
          readOnly: true,
          expirationHours: 24,
          retentionHours: 12,
          owner: { namespace: "ns", name: "snap", uid: expect.any(String) as string },
        },
      },
    });
  });

  it.each([
    [
      "a missing source: the finalizer goes on, nothing is created, no intent is recorded",
      virtualCopy("s"),
      { ok: false, reason: "SourceNotFound", message: "m" } as const,
      undefined,
      { addFinalizer: true, recordIntent: false, engine: undefined },
    ],
    [
      "the copy already on the array is adopted, not created again",
      virtualCopy("s", withFinalizer()),
      source,
      copyObservation(),
      { addFinalizer: false, engine: undefined },
    ],
  ] as const)("%s", (_why, vc, src, observed, want) => {
    expect(decide(gathered({ vc, source: src, observed }))).toMatchObject(want);
  });

  it("never re-creates a copy that existed and is gone: a new snapshot is another point in time", () => {
    const plan = decide(gathered({ vc: virtualCopy("s", withFinalizer(), created(new Date(now - 3600_000))), source }));
    expect(plan.engine).toBeUndefined();
  });

  it("does nothing without a usable class or engine", () => {
    expect(
      decide(gathered({ vc: virtualCopy("s"), cls: { ok: false, reason: "ClassNotFound", message: "m" }, source }))
        .engine,
    ).toBeUndefined();
    expect(decide(gathered({ vc: virtualCopy("s"), engineError: "bad credentials", source })).engine).toBeUndefined();
  });

  describe("deletion", () => {
    const gone = (vc = virtualCopy("s", withFinalizer(), deleting())) => gathered({ vc });
    it.each([
      [
        "Retain lets the resource go and keeps the array object",
        gathered({
          vc: virtualCopy("s", withFinalizer(), deleting(), withPolicy("Retain")),
          observed: copyObservation(),
        }),
        { engine: undefined, removeFinalizer: true },
      ],
      [
        "Delete deletes the array object, then lets the resource go",
        gathered({ vc: virtualCopy("s", withFinalizer(), deleting()), observed: copyObservation() }),
        { engine: { kind: "delete", name: vcArrayName }, removeFinalizer: true },
      ],
      [
        "nothing on the array and no create pending: the resource goes",
        gone(),
        { engine: undefined, removeFinalizer: true, waitMs: undefined },
      ],
      [
        "an old unconfirmed create can no longer land: the resource goes",
        gone(virtualCopy("s", withFinalizer(), deleting(), withIntent(new Date(now - uncertaintyWindowMs - 1)))),
        { removeFinalizer: true, waitMs: undefined },
      ],
      [
        "a create refused for good leaves nothing to wait for",
        gone(
          virtualCopy(
            "s",
            withFinalizer(),
            deleting(),
            withIntent(new Date(now)),
            readyCondition("False", "NameTaken"),
          ),
        ),
        { removeFinalizer: true },
      ],
      [
        "without our finalizer there is nothing to do",
        gathered({ vc: virtualCopy("s", deleting()), observed: copyObservation() }),
        { engine: undefined, removeFinalizer: false },
      ],
      [
        "an unreachable array keeps the finalizer: never leak",
        gathered({ vc: virtualCopy("s", withFinalizer(), deleting()), engineError: "unreachable" }),
        { engine: undefined, removeFinalizer: false },
      ],
    ] as const)("%s", (_why, g, want) => {
      expect(decide(g)).toMatchObject(want);
    });

    it("a recent unconfirmed create makes deletion wait out the rest of the window", () => {
      const plan = decide(gone(virtualCopy("s", withFinalizer(), deleting(), withIntent(new Date(now - 30_000)))));
      expect(plan).toMatchObject({ removeFinalizer: false, waitMs: uncertaintyWindowMs - 30_000 });
    });
  });
});
