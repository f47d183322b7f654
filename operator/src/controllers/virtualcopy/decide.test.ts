import { describe, expect, it } from "vitest";
import {
  blockedAt,
  copyObservation,
  created,
  deleting,
  linked,
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
const nothingThere = linked(undefined);
const gathered = (g: Partial<Gathered> & Pick<Gathered, "vc">): Gathered => ({ now, link: nothingThere, ...g });
const source = { ok: true, volume: "data" } as const;

describe("VirtualCopy decide", () => {
  it("a new copy gets the finalizer and the create intent, then one create with the owner tag and hours", () => {
    const plan = decide(gathered({ vc: virtualCopy("snap", withHours(24, 12)), source }));
    expect(plan).toEqual({
      kind: "create",
      addFinalizer: true,
      recordIntent: true,
      request: {
        name: vcArrayName,
        source: "data",
        readOnly: true,
        expirationHours: 24,
        retentionHours: 12,
        owner: { namespace: "ns", name: "snap", uid: expect.any(String) as string },
      },
    });
  });

  it("on an engine whose creates cannot land late, no intent: a copy born with the finalizer needs no patch", () => {
    const embeddedLike = linked(undefined, { createsMayLandLate: false });
    const plan = decide(gathered({ vc: virtualCopy("snap", withFinalizer()), link: embeddedLike, source }));
    expect(plan).toMatchObject({ kind: "create", addFinalizer: false, recordIntent: false });
    // and its deletion, with nothing on the array and no intent, lets go at once: there is nothing to wait for
    const gone = decide(gathered({ vc: virtualCopy("snap", withFinalizer(), deleting()), link: embeddedLike }));
    expect(gone).toEqual({ kind: "release", why: "Absent" });
  });

  it.each([
    {
      why: "a missing source: the finalizer goes on, nothing is created, no intent is recorded",
      g: gathered({ vc: virtualCopy("s"), source: { ok: false, reason: "SourceNotFound", message: "m" } }),
      want: { kind: "waitForSource", reason: "SourceNotFound", addFinalizer: true },
    },
    {
      why: "the copy already on the array is adopted, not created again",
      g: gathered({ vc: virtualCopy("s", withFinalizer()), link: linked(copyObservation()) }),
      want: { kind: "exists" },
    },
    {
      why: "a copy that existed and is gone is never re-created: a new snapshot is another point in time",
      g: gathered({ vc: virtualCopy("s", withFinalizer(), created(new Date(now - 3600_000))), source }),
      want: { kind: "gone", expired: false },
    },
    {
      why: "a copy gone after its expiration time expired",
      g: gathered({
        vc: virtualCopy(
          "s",
          withFinalizer(),
          created(new Date(now - 7200_000), { expirationTime: "2026-11-24T01:00:00Z" }),
        ),
      }),
      want: { kind: "gone", expired: true },
    },
    {
      why: "no class: blocked, with the class's reason",
      g: gathered({ vc: virtualCopy("s"), link: blockedAt("ClassNotFound"), source }),
      want: { kind: "blocked", blocked: { reason: "ClassNotFound" } },
    },
    {
      why: "an engine that cannot be built: blocked, ClassUnusable",
      g: gathered({ vc: virtualCopy("s"), link: blockedAt("ClassUnusable", "bad credentials"), source }),
      want: { kind: "blocked", blocked: { reason: "ClassUnusable", message: "bad credentials" } },
    },
    {
      why: "an engine without virtual copies is not asked to make one",
      g: gathered({ vc: virtualCopy("s"), link: linked(undefined, { virtualCopies: false }), source }),
      want: { kind: "unsupported", message: "the class's engine does not make virtual copies" },
    },
    {
      why: "an engine that cannot expire copies is not given expiration hours",
      g: gathered({ vc: virtualCopy("s", withHours(24)), link: linked(undefined, { expiration: false }), source }),
      want: { kind: "unsupported", message: expect.stringContaining("spec.expirationHours") as string },
    },
    {
      why: "an engine that cannot retain copies is not given retention hours",
      g: gathered({ vc: virtualCopy("s", withHours(24, 12)), link: linked(undefined, { retention: false }), source }),
      want: { kind: "unsupported", message: expect.stringContaining("spec.retentionHours") as string },
    },
    {
      why: "an engine whose names are shorter than ours is not asked",
      g: gathered({ vc: virtualCopy("s"), link: linked(undefined, { maxNameLength: 16 }), source }),
      want: { kind: "unsupported", message: expect.stringContaining("16 characters") as string },
    },
  ])("$why", ({ g, want }) => {
    expect(decide(g)).toMatchObject(want);
  });

  describe("deletion", () => {
    const gone = (vc = virtualCopy("s", withFinalizer(), deleting())) => gathered({ vc });
    it.each([
      {
        why: "Retain lets the resource go and keeps the array object",
        g: gathered({
          vc: virtualCopy("s", withFinalizer(), deleting(), withPolicy("Retain")),
          link: linked(copyObservation()),
        }),
        want: { kind: "release", why: "Retain" },
      },
      {
        why: "Retain needs no array: the resource goes even when the class is unusable",
        g: gathered({
          vc: virtualCopy("s", withFinalizer(), deleting(), withPolicy("Retain")),
          link: blockedAt("ClassUnusable"),
        }),
        want: { kind: "release", why: "Retain" },
      },
      {
        why: "Delete deletes the array object, then lets the resource go",
        g: gathered({ vc: virtualCopy("s", withFinalizer(), deleting()), link: linked(copyObservation()) }),
        want: { kind: "delete", copy: { name: vcArrayName } },
      },
      {
        why: "nothing on the array and no create pending: the resource goes",
        g: gone(),
        want: { kind: "release", why: "Absent" },
      },
      {
        why: "an old unconfirmed create can no longer land: the resource goes",
        g: gone(virtualCopy("s", withFinalizer(), deleting(), withIntent(new Date(now - uncertaintyWindowMs - 1)))),
        want: { kind: "release", why: "Absent" },
      },
      {
        why: "a create refused for good leaves nothing to wait for",
        g: gone(
          virtualCopy(
            "s",
            withFinalizer(),
            deleting(),
            withIntent(new Date(now)),
            readyCondition("False", "NameTaken"),
          ),
        ),
        want: { kind: "release", why: "Absent" },
      },
      {
        why: "without our finalizer there is nothing to do",
        g: gathered({ vc: virtualCopy("s", deleting()), link: linked(copyObservation()) }),
        want: { kind: "none" },
      },
      {
        why: "an unreachable array keeps the finalizer: never leak",
        g: gathered({ vc: virtualCopy("s", withFinalizer(), deleting()), link: blockedAt("ArrayUnavailable") }),
        want: { kind: "blocked", blocked: { reason: "ArrayUnavailable" } },
      },
    ])("$why", ({ g, want }) => {
      expect(decide(g)).toMatchObject(want);
    });

    it("a recent unconfirmed create makes deletion wait out the rest of the window", () => {
      const plan = decide(gone(virtualCopy("s", withFinalizer(), deleting(), withIntent(new Date(now - 30_000)))));
      expect(plan).toEqual({ kind: "wait", ms: uncertaintyWindowMs - 30_000 });
    });
  });
});
