import { describe, expect, it } from "vitest";
import { EngineError, arrayError } from "../../engine/errors.ts";
import {
  copyObservation,
  created,
  deleting,
  embeddedClass,
  readyCondition,
  vcArrayName,
  virtualCopy,
  withFinalizer,
} from "../../../../test/support/builders.ts";
import { decide, type Gathered } from "./decide.ts";
import { report, type Outcome } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const run = (g: Partial<Gathered> & Pick<Gathered, "vc">, outcome: Outcome = {}) => {
  const full: Gathered = { now, cls: embeddedClass, ...g };
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
      observed: copyObservation(),
    });
    expect(r.events).toEqual([]);
  });

  it("wakes up when the array expires the copy", () => {
    const r = run({
      vc: virtualCopy("snap", withFinalizer()),
      observed: copyObservation({ expiresAt: now + 1_800_000 }),
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
      "retry",
    ],
    [
      "a missing array volume is SourceNotFound, stalled",
      arrayError("NON_EXISTENT_VOL", "volume data not found"),
      "SourceNotFound",
      { Stalled: "True/SourceNotFound" },
      "retry",
    ],
    [
      "a timeout is ArrayUnavailable, still reconciling",
      new EngineError("request timed out", { code: "Timeout" }),
      "ArrayUnavailable",
      { Reconciling: "True/ArrayUnavailable", Stalled: "False/ArrayUnavailable" },
      "retry",
    ],
  ] as const)("%s", (_why, error, reason, conds, next) => {
    const r = run({ vc: virtualCopy("snap", withFinalizer()), source: { ok: true, volume: "data" } }, { error });
    expect(r.reason).toBe(reason);
    expect(conditionsOf(r)).toMatchObject({ Ready: `False/${reason}`, ...conds });
    expect(r.events).toEqual([{ type: "Warning", reason, note: r.message }]);
    expect(r.next.kind).toBe(next);
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
      { vc, observed: copyObservation({ retainedUntil: now + 600_000 }) },
      { error: arrayError("RETAINED", "vc-x is retained") },
    );
    expect(r.reason).toBe("DeletionRefused");
    expect(r.write).toBe(true);
    expect(r.events[0]).toMatchObject({ type: "Warning", reason: "DeletionRefused" });
    expect(r.next).toEqual({ kind: "after", ms: 601_000 });
  });

  it("a finished deletion writes no status and says Deleted", () => {
    const r = run(
      { vc: virtualCopy("snap", withFinalizer(), deleting(), created(new Date(now))), observed: copyObservation() },
      { deleted: true },
    );
    expect(r.write).toBe(false);
    expect(r.events.map((e) => e.reason)).toContain("Deleted");
  });
});
