import { describe, expect, it } from "vitest";
import {
  copyJob,
  copyObservation,
  copyVolumes,
  jobSubmitted,
  linked,
  pcResolved,
  pcWithFinalizer,
  physicalCopy,
  uid,
} from "../../../../test/support/builders.ts";
import type { SynchronizationObservation } from "../../engine/port.ts";
import { copyFinalizer, type PhysicalCopyObject } from "../shared/objects.ts";
import { decidePc, releases } from "./decide.ts";

const deletingOffline: PhysicalCopyObject = {
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "PhysicalCopy",
  metadata: {
    name: "copy",
    namespace: "ns",
    uid,
    generation: 1,
    finalizers: [copyFinalizer],
    deletionTimestamp: "2026-11-24T00:00:00Z",
  },
  spec: {
    source: { volumeName: "data" },
    target: { volumeName: "test-env" },
    saveSnapshot: false,
    deletionPolicy: "Delete",
  },
};

const sync = (
  copyType: SynchronizationObservation["copyType"],
  syncState: SynchronizationObservation["syncState"],
): SynchronizationObservation => ({
  copyType,
  replicaType: "FullCopy",
  syncState,
  syncMaintained: false,
  whenSynced: undefined,
  percentSynced: 40,
  copyPriority: "Same",
});

describe("PhysicalCopy decide: deletion with policy Delete of an offline copy", () => {
  it.each([
    ["an associated copy (saveSnapshot) has its association ended", sync("UnSyncAssoc", "Frozen"), "detach"],
    ["a Broken associated copy too: the array detaches a failed copy", sync("UnSyncAssoc", "Broken"), "detach"],
    [
      "a copy made without saveSnapshot that broke has no association to end: detaching it is refused for " +
        "good, so the finalizer just goes",
      sync("UnSyncUnAssoc", "Broken"),
      undefined,
    ],
    ["a completed independent copy has nothing left on the array to clean", undefined, "release"],
  ] as const)("%s", (_why, synchronization, kind) => {
    const plan = decidePc({
      pc: deletingOffline,
      now: 0,
      link: linked(copyObservation({ name: "test-env", kind: "Physical", synchronization, contentComplete: false })),
    });
    expect(plan.kind).toBe(kind ?? "release");
    expect(releases(plan)).toBe(true);
  });

  it("a copy still running is halted first, and the finalizer stays", () => {
    const running = copyObservation({ name: "test-env", kind: "Physical", activeJob: "7" });
    const plan = decidePc({ pc: deletingOffline, now: 0, link: linked(running) });
    expect(plan).toEqual({ kind: "halt", copy: running });
    expect(releases(plan)).toBe(false);
  });

  it("an initial job that recorded its start intent and has no task yet makes deletion wait", () => {
    const job = copyJob("copy-copy", "Copy", copyVolumes(), jobSubmitted());
    expect(decidePc({ pc: deletingOffline, now: 0, link: linked(undefined), initialJob: job })).toEqual({
      kind: "wait",
      ms: 1_000,
    });
    const notStarted = copyJob("copy-copy", "Copy", copyVolumes());
    expect(decidePc({ pc: deletingOffline, now: 0, link: linked(undefined), initialJob: notStarted })).toMatchObject({
      kind: "release",
    });
  });
});

describe("PhysicalCopy decide: the initial copy", () => {
  const resolved = { source: { ok: true, volume: "data" }, target: { ok: true, volume: "test-env" } } as const;

  it("resolved volumes make the initial CopyJob, with the finalizer first", () => {
    const plan = decidePc({ pc: physicalCopy("copy"), now: 0, link: linked(undefined), ...resolved });
    expect(plan).toEqual({
      kind: "startCopy",
      volumes: { source: "data", target: "test-env" },
      addFinalizer: true,
    });
  });

  it("a claim target that resolves to the source's array volume is refused at run time: TargetIsSource", () => {
    const same = { source: { ok: true, volume: "data" }, target: { ok: true, volume: "data" } } as const;
    expect(decidePc({ pc: physicalCopy("copy"), now: 0, link: linked(undefined), ...same })).toMatchObject({
      kind: "waitForVolumes",
      reason: "TargetIsSource",
      addFinalizer: true,
    });
  });

  it("an initial job that exists is waited for, not made again", () => {
    const job = copyJob("copy-copy", "Copy", copyVolumes());
    const plan = decidePc({
      pc: physicalCopy("copy", pcWithFinalizer(), pcResolved()),
      now: 0,
      link: linked(undefined),
      initialJob: job,
      ...resolved,
    });
    expect(plan).toMatchObject({ kind: "pending", job, addFinalizer: false });
  });

  it.each([
    { why: "an engine without physical copies", caps: { physicalCopies: false }, pc: physicalCopy("copy") },
    {
      why: "an engine that cannot keep an association, for saveSnapshot",
      caps: { resync: false },
      pc: physicalCopy("copy"),
    },
  ])("$why: NotSupported, no job is made", ({ caps, pc }) => {
    expect(decidePc({ pc, now: 0, link: linked(undefined, caps), ...resolved })).toMatchObject({
      kind: "unsupported",
    });
  });
});
