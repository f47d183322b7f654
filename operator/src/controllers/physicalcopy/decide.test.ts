import { describe, expect, it } from "vitest";
import { copyObservation, embeddedClass, uid } from "../../../../test/support/builders.ts";
import type { SynchronizationObservation } from "../../engine/port.ts";
import { copyFinalizer, type PhysicalCopyObject } from "../shared/objects.ts";
import { decidePc } from "./decide.ts";

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
    ["a completed independent copy has nothing left on the array to clean", undefined, undefined],
  ] as const)("%s", (_why, synchronization, call) => {
    const plan = decidePc({
      pc: deletingOffline,
      now: 0,
      cls: embeddedClass,
      observed: copyObservation({ name: "test-env", kind: "Physical", synchronization, contentComplete: false }),
    });
    expect(plan.engine?.kind).toBe(call);
    expect(plan.removeFinalizer).toBe(true);
  });
});
