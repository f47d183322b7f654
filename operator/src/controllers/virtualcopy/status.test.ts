import { describe, expect, it } from "vitest";
import { EngineError, arrayError } from "../../engine/errors.ts";
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
} from "../../../../test/support/builders.ts";
import { decide, type Gathered } from "./decide.ts";
import { report, type Outcome } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const run = (g: Partial<Gathered> & Pick<Gathered, "vc">, outcome: Outcome = {}) => {
  const full: Gathered = { now, link: linked(undefined), ...g };
  return report(full, decide(full), outcome);
};
const conditionsOf = (r: ReturnType<typeof run>) =>
  Object.fromEntries(r.conditions.map((c) => [c.type, `${c.status}/${c.reason}`]));

describe("VirtualCopy status", () => {
  it("a created copy is Ready in the CIM vocabulary, with one Ready event", () => {
    const r = run({ vc: virtualCopy("snap"), source: { ok: true, volume: "data" } }, { created: copyObservation() });
    expect(conditionsOf(r)).toEqual({ Ready: "True/Idle", Reconciling: "False/Idle", Stalled: "False/Idle" });
    expect(r.fields).toMatchObject({
      arrayName: vcArrayName,
      sourceVolume: "data",
      copyType: "UnSyncAssoc",
      replicaType: "AfterDelta",
      syncState: "Idle",
      syncMaintained: false,
      whenSynced: "2026-11-24T01:00:00Z",
      creationTime: "2026-11-24T01:00:00Z",
      copyClassName: "embedded",
      observedGeneration: 1,
    });
    expect(r.fields).not.toHaveProperty("lastError");
    expect(r.events.map((e) => e.reason)).toEqual(["Ready"]);
    expect(r.next).toEqual({ kind: "done" });
  });

  it("a quiet reconcile of a Ready copy emits no event", () => {
    const r = run({
      vc: virtualCopy("snap", withFinalizer(), created(new Date(now)), readyCondition("True", "Idle")),
      link: linked(copyObservation()),
    });
    expect(r.events).toEqual([]);
  });

  it("wakes up when the array expires the copy", () => {
    const r = run({
      vc: virtualCopy("snap", withFinalizer()),
      link: linked(copyObservation({ expiresAt: now + 1_800_000 })),
    });
    expect(r.next).toEqual({ kind: "after", ms: 1_801_000 });
    expect(r.fields.expirationTime).toBe("2026-11-24T02:30:00Z");
  });

  it.each([
    [
      "a name held by another owner is NameTaken, stalled",
      arrayError("EXISTENT_VOL", "volume vc-x exists"),
      "NameTaken",
      { Reconciling: "False/NameTaken", Stalled: "True/NameTaken" },
      { kind: "recheck", since: now, maxMs: 300_000 },
    ],
    [
      "a missing array volume is SourceNotFound, stalled",
      arrayError("NON_EXISTENT_VOL", "volume data not found"),
      "SourceNotFound",
      { Stalled: "True/SourceNotFound" },
      { kind: "recheck", since: now, maxMs: 300_000 },
    ],
    [
      "a timeout is ArrayUnavailable, still reconciling",
      new EngineError("request timed out", { code: "Timeout" }),
      "ArrayUnavailable",
      { Reconciling: "True/ArrayUnavailable", Stalled: "False/ArrayUnavailable" },
      { kind: "recheck", since: now, maxMs: 60_000 },
    ],
  ] as const)("%s", (_why, error, reason, conds, next) => {
    const r = run({ vc: virtualCopy("snap", withFinalizer()), source: { ok: true, volume: "data" } }, { error });
    expect(r.reason).toBe(reason);
    expect(conditionsOf(r)).toMatchObject({ Ready: `False/${reason}`, ...conds });
    expect(r.events).toEqual([{ type: "Warning", reason, note: r.message }]);
    expect(r.next).toEqual(next);
    expect(r.fields.lastError).toMatchObject({ message: r.message, time: "2026-11-24T02:00:00Z" });
  });

  it("keeps lastError's time while the error stays the same, so a retry writes nothing new", () => {
    const first = run({
      vc: virtualCopy("snap"),
      source: { ok: false, reason: "SourceNotFound", message: "PersistentVolumeClaim ns/data not found" },
    });
    const vc = virtualCopy("snap", (v) => {
      (v as { status: unknown }).status = { lastError: { message: first.message, time: "2026-11-24T01:00:00Z" } };
    });
    const again = run({
      vc,
      source: { ok: false, reason: "SourceNotFound", message: "PersistentVolumeClaim ns/data not found" },
    });
    expect(again.fields.lastError).toEqual({ message: first.message, time: "2026-11-24T01:00:00Z" });
    // ...and it is looked at again after as long as it has lasted (an hour), within the Stalled cap.
    expect(again.next).toEqual({ kind: "recheck", since: Date.parse("2026-11-24T01:00:00Z"), maxMs: 300_000 });
  });

  it.each([
    { why: "no class", link: blockedAt("ClassNotFound", "CopyClass gold not found"), reason: "ClassNotFound" },
    { why: "no default class", link: blockedAt("NoDefaultClass", "no default"), reason: "NoDefaultClass" },
    { why: "an unusable class", link: blockedAt("ClassUnusable", "CopyClass x: bad"), reason: "ClassUnusable" },
  ])("a blocked link ($why) is Stalled with its own reason and message", ({ link, reason }) => {
    const r = run({ vc: virtualCopy("snap"), link });
    expect(conditionsOf(r)).toEqual({
      Ready: `False/${reason}`,
      Reconciling: `False/${reason}`,
      Stalled: `True/${reason}`,
    });
    expect(r.message).toBe(link.ok ? "" : link.blocked.message);
    expect(r.next).toMatchObject({ kind: "recheck", maxMs: 300_000 });
  });

  it("a refused login is ArrayAccessDenied, looked at again every 30 s, not backed off", () => {
    const denied = new EngineError("login refused", { code: "AccessDenied", kind: "final" });
    const r = run({ vc: virtualCopy("snap"), link: blockedAt("ArrayUnavailable", "m", denied) });
    expect(conditionsOf(r)).toMatchObject({ Ready: "False/ArrayAccessDenied", Stalled: "True/ArrayAccessDenied" });
    expect(r.next).toEqual({ kind: "after", ms: 30_000 });
  });

  it("an engine without virtual copies is NotSupported, stalled, with one Warning", () => {
    const r = run({ vc: virtualCopy("snap"), link: linked(undefined, { virtualCopies: false }) });
    expect(conditionsOf(r)).toMatchObject({ Ready: "False/NotSupported", Stalled: "True/NotSupported" });
    expect(r.events).toEqual([{ type: "Warning", reason: "NotSupported", note: r.message }]);
  });

  it("an array that cannot be asked keeps what was observed last", () => {
    const vc = virtualCopy("snap", withFinalizer(), created(new Date(now - 60_000), { sourceVolume: "data" }));
    const r = run({ vc, link: blockedAt("ArrayUnavailable", "connection refused") });
    expect(r.fields).toMatchObject({ arrayName: vcArrayName, syncState: "Idle", sourceVolume: "data" });
    expect(conditionsOf(r)).toMatchObject({ Ready: "False/ArrayUnavailable", Reconciling: "True/ArrayUnavailable" });
  });

  it("a copy the array expired is Expired, not stalled, and keeps what it was", () => {
    const vc = virtualCopy(
      "snap",
      withFinalizer(),
      created(new Date(now - 7_200_000), { expirationTime: "2026-11-24T01:30:00Z", sourceVolume: "data" }),
    );
    const r = run({ vc });
    expect(conditionsOf(r)).toEqual({ Ready: "False/Expired", Reconciling: "False/Expired", Stalled: "False/Expired" });
    expect(r.fields).toMatchObject({
      arrayName: vcArrayName,
      sourceVolume: "data",
      expirationTime: "2026-11-24T01:30:00Z",
    });
    expect(r.fields).not.toHaveProperty("syncState");
    expect(r.events.map((e) => e.reason)).toEqual(["Expired"]);
  });

  it("a copy gone before its time is Lost and stalled", () => {
    const r = run({ vc: virtualCopy("snap", withFinalizer(), created(new Date(now - 60_000))) });
    expect(conditionsOf(r)).toMatchObject({ Ready: "False/Lost", Stalled: "True/Lost" });
  });

  it("a retained copy's deletion is refused, shown, and retried when retention ends", () => {
    const vc = virtualCopy("snap", withFinalizer(), deleting(), created(new Date(now)));
    const r = run(
      { vc, link: linked(copyObservation({ retainedUntil: now + 600_000 })) },
      { error: arrayError("RETAINED", "vc-x is retained") },
    );
    expect(r.reason).toBe("DeletionRefused");
    expect(r.write).toBe(true);
    expect(r.events[0]).toMatchObject({ type: "Warning", reason: "DeletionRefused" });
    expect(r.next).toEqual({ kind: "after", ms: 601_000 });
  });

  it("a finished deletion writes no status and says Deleted", () => {
    const r = run(
      { vc: virtualCopy("snap", withFinalizer(), deleting(), created(new Date(now))), link: linked(copyObservation()) },
      { deleted: true },
    );
    expect(r.write).toBe(false);
    expect(r.events.map((e) => e.reason)).toContain("Deleted");
  });
});
