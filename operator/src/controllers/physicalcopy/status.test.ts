// PhysicalCopy status: each case is a state of the array (or of the class, or of the deletion) and the kstatus
// conditions, reason, events and next step it must give — the table a user reads in docs/status.md.
import { describe, expect, it } from "vitest";
import {
  blockedAt,
  copyJob,
  copyVolumes,
  jobSubmitted,
  linked,
  pcDeleting,
  pcResolved,
  pcUnassociated,
  pcWithFinalizer,
  physicalCopy,
  physicalObservation,
} from "../../../../test/support/builders.ts";
import { arrayError, EngineError } from "../../engine/errors.ts";
import { decidePc, type PcGathered, type PcPlan } from "./decide.ts";
import { pcReport, type PcOutcome } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");

interface Case {
  readonly name: string;
  readonly g: PcGathered;
  /** decidePc(g) when absent. */
  readonly plan?: PcPlan;
  readonly outcome?: PcOutcome;
  readonly reason: string;
  /** Ready / Reconciling / Stalled. */
  readonly conditions: readonly ["True" | "False", "True" | "False", "True" | "False"];
  readonly next: string;
  readonly fields?: Record<string, unknown>;
}

const live = (
  syncState: Parameters<typeof physicalObservation>[0],
  mods: Parameters<typeof physicalObservation>[1] = {},
): PcGathered => ({
  pc: physicalCopy("copy", pcWithFinalizer(), pcResolved()),
  now,
  link: linked(physicalObservation(syncState, mods)),
});

const cases: readonly Case[] = [
  {
    name: "a queued copy (Initialized) is Reconciling, woken by its job's indications",
    g: live("Initialized"),
    reason: "Queued",
    conditions: ["False", "True", "False"],
    next: "after 10000",
    fields: { syncState: "Initialized", copyType: "UnSyncAssoc", replicaType: "FullCopy", percentSynced: 40 },
  },
  {
    name: "a running copy shows its progress as PercentSynced",
    g: live("ResyncInProgress"),
    reason: "Copying",
    conditions: ["False", "True", "False"],
    next: "after 10000",
    fields: { syncState: "ResyncInProgress", percentSynced: 40 },
  },
  {
    name: "Frozen is Ready: a complete copy kept associated for resync",
    g: live("Frozen"),
    reason: "Frozen",
    conditions: ["True", "False", "False"],
    next: "done",
    fields: { syncState: "Frozen", percentSynced: 100, whenSynced: "2026-11-24T01:00:00Z" },
  },
  {
    name: "Broken is Stalled: a resync is impossible, a StartCopy recopies",
    g: live("Broken"),
    reason: "Broken",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
  {
    name: "an unassociated copy that completed is Ready (Completed)",
    g: { ...live(undefined, { saveSnapshot: false }), pc: physicalCopy("copy", pcWithFinalizer(), pcUnassociated()) },
    reason: "Completed",
    conditions: ["True", "False", "False"],
    next: "done",
    fields: { copyType: "UnSyncUnAssoc", percentSynced: 100 },
  },
  {
    name: "a target with no copy task yet, while its initial job runs, is Pending: not Ready before the copy ran",
    g: {
      ...live(undefined),
      initialJob: copyJob("copy-copy", "Copy", copyVolumes(), jobSubmitted()),
    },
    reason: "Pending",
    conditions: ["False", "True", "False"],
    next: "after 1000",
  },
  {
    name: "a copy that ended before completing is Incomplete, Stalled",
    g: live(undefined, { contentComplete: false }),
    reason: "Incomplete",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
  {
    name: "a missing class is Stalled with the class's reason",
    g: { pc: physicalCopy("copy"), now, link: blockedAt("ClassNotFound", "CopyClass fast not found") },
    reason: "ClassNotFound",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
  {
    name: "an array that refuses our credentials is ArrayAccessDenied, looked at again in 30 s",
    g: {
      ...live("Frozen"),
      link: blockedAt("ArrayUnavailable", "", new EngineError("cannot log in (5)", { code: "AccessDenied" })),
    },
    reason: "ArrayAccessDenied",
    conditions: ["False", "False", "True"],
    next: "after 30000",
  },
  {
    name: "an array that does not answer is ArrayUnavailable, looked at again, the last observation kept",
    g: {
      ...live("Frozen"),
      pc: physicalCopy("copy", pcWithFinalizer(), (pc) => {
        pc.status = { sourceVolume: "data", targetVolume: "test-env", syncState: "Frozen", percentSynced: 100 };
      }),
      link: blockedAt("ArrayUnavailable", "", new EngineError("no answer", { code: "Timeout" })),
    },
    reason: "ArrayUnavailable",
    conditions: ["False", "True", "False"],
    next: "recheck",
    fields: { syncState: "Frozen", percentSynced: 100 },
  },
  {
    name: "a deletion the array refuses is DeletionRefused, with the array's reason",
    g: { ...live("Frozen"), pc: physicalCopy("copy", pcWithFinalizer(), pcResolved(), pcDeleting()) },
    plan: { kind: "detach", copy: physicalObservation("Frozen") },
    outcome: { error: arrayError("IN_USE", "test-env is in use") },
    reason: "DeletionRefused",
    conditions: ["False", "True", "False"],
    next: "recheck",
  },
  {
    name: "a target claim that does not resolve is said of the target, Stalled",
    g: {
      pc: physicalCopy("copy", pcWithFinalizer()),
      now,
      link: linked(undefined),
      source: { ok: true, volume: "data" },
      target: { ok: false, reason: "SourceNotBound", message: "PersistentVolumeClaim ns/t is not bound" },
    },
    reason: "TargetNotBound",
    conditions: ["False", "False", "True"],
    next: "recheck",
    fields: { sourceVolume: "data" },
  },
  {
    name: "resolved volumes start the initial copy: Pending, with the volumes in status",
    g: {
      pc: physicalCopy("copy", pcWithFinalizer()),
      now,
      link: linked(undefined),
      source: { ok: true, volume: "data" },
      target: { ok: true, volume: "test-env" },
    },
    reason: "Pending",
    conditions: ["False", "True", "False"],
    next: "after 1000",
    fields: { sourceVolume: "data", targetVolume: "test-env" },
  },
  {
    name: "an engine without online copies is NotSupported for an online copy",
    g: {
      pc: physicalCopy("copy", (pc) => {
        pc.spec.target = { create: { provisioning: "Thin" } };
      }),
      now,
      link: linked(undefined, { onlinePhysicalCopies: false }),
      source: { ok: true, volume: "data" },
      target: { ok: true, volume: "pc-x" },
    },
    reason: "NotSupported",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
  {
    name: "a copy created once and gone from the array is Lost",
    g: {
      pc: physicalCopy("copy", pcWithFinalizer(), pcResolved(), (pc) => {
        pc.status = { ...pc.status, creationTime: "2026-11-24T01:00:00Z" };
      }),
      now,
      link: linked(undefined),
    },
    reason: "Lost",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
  {
    name: "a deletion that cannot reach the array is DeletionBlocked, keeping the finalizer",
    g: {
      pc: physicalCopy("copy", pcWithFinalizer(), pcResolved(), pcDeleting()),
      now,
      link: blockedAt("ClassUnusable", "CopyClass fast: no Secret"),
    },
    reason: "DeletionBlocked",
    conditions: ["False", "False", "True"],
    next: "recheck",
  },
];

describe("PhysicalCopy status", () => {
  it.each(cases)("$name", (c) => {
    const rep = pcReport(c.g, c.plan ?? decidePc(c.g), c.outcome ?? {});
    expect(rep.reason).toBe(c.reason);
    const byType = new Map(rep.conditions.map((x) => [x.type, x]));
    expect([byType.get("Ready")?.status, byType.get("Reconciling")?.status, byType.get("Stalled")?.status]).toEqual(
      c.conditions,
    );
    for (const cond of rep.conditions) expect(cond).toMatchObject({ reason: c.reason, observedGeneration: 1 });
    const next = rep.next.kind === "after" ? `after ${String(rep.next.ms)}` : rep.next.kind;
    expect(next).toBe(c.next);
    if (c.fields !== undefined) expect(rep.fields).toMatchObject(c.fields);
    if (c.conditions[2] === "True")
      expect(rep.fields.lastError).toMatchObject({ message: expect.any(String) as unknown });
  });

  it("fires Ready once, on the transition, and a Warning on a transition to Stalled", () => {
    const first = pcReport(live("Frozen"), decidePc(live("Frozen")), {});
    expect(first.events.map((e) => [e.type, e.reason])).toContainEqual(["Normal", "Ready"]);
    const settled = live("Frozen");
    const settledAgain: PcGathered = {
      ...settled,
      pc: {
        ...settled.pc,
        status: {
          ...settled.pc.status,
          conditions: first.conditions.map((x) => ({ ...x, lastTransitionTime: "2026-11-24T01:00:00Z" })),
        },
      },
    };
    const again = pcReport(settledAgain, decidePc(settledAgain), {});
    expect(again.events).toEqual([]);
    const broken = pcReport(live("Broken"), decidePc(live("Broken")), {});
    expect(broken.events.map((e) => [e.type, e.reason])).toContainEqual(["Warning", "Broken"]);
  });
});
