import { describe, expect, it } from "vitest";
import { blockedAt, linked } from "../../../../test/support/builders.ts";
import type { CopyObservation, JobObservation } from "../../engine/port.ts";
import type { Capabilities } from "../../engine/port.ts";
import type { Link } from "../shared/connect.ts";
import { startIntentAnnotation, type CopyJobObject, type PhysicalCopyObject } from "../shared/objects.ts";
import { adoptable, decideJob, type JobArrayView, type JobGathered } from "./decide.ts";
import { jobReport } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const job = (
  operation: CopyJobObject["spec"]["operation"],
  status?: CopyJobObject["status"],
  extra: Partial<CopyJobObject["spec"]> = {},
): CopyJobObject => ({
  metadata: { name: "j", namespace: "ns", uid: "u-j", generation: 1 },
  spec: {
    copyRef: { kind: operation === "Restore" ? "VirtualCopy" : "PhysicalCopy", name: "c" },
    operation,
    requestedState: "Start",
    ...extra,
  },
  ...(status === undefined ? {} : { status }),
});
const pc: PhysicalCopyObject = {
  metadata: { name: "c", namespace: "ns", uid: "u-c" },
  spec: { source: { volumeName: "src" }, target: { volumeName: "dst" }, saveSnapshot: true },
  status: { sourceVolume: "src", targetVolume: "dst", creationTime: "2026-11-24T01:00:00Z" },
};
const observed = (
  sync: Partial<NonNullable<CopyObservation["synchronization"]>> | undefined,
  extra: Partial<CopyObservation> = {},
): CopyObservation => ({
  name: "dst",
  kind: "Physical",
  source: "src",
  owner: { namespace: "ns", name: "c", uid: "u-c" },
  sizeBytes: 1,
  readOnly: false,
  createdAt: now,
  expiresAt: undefined,
  retainedUntil: undefined,
  online: false,
  saveSnapshot: true,
  contentComplete: true,
  activeJob: undefined,
  lastJob: undefined,
  synchronization:
    sync === undefined
      ? undefined
      : {
          copyType: "UnSyncAssoc",
          replicaType: "FullCopy",
          syncState: "Frozen",
          syncMaintained: false,
          whenSynced: now,
          percentSynced: 100,
          copyPriority: "Same",
          ...sync,
        },
  ...extra,
});
const task = (m: Partial<JobObservation> = {}): JobObservation => ({
  id: "7",
  operation: "Resync",
  copy: "dst",
  priority: "Same",
  jobState: "Running",
  operationalStatus: [],
  percentComplete: 40,
  errorCode: 0,
  errorDescription: "",
  timeSubmitted: now,
  startTime: now,
  endTime: undefined,
  ...m,
});
interface Given {
  readonly job: CopyJobObject;
  readonly copy?: JobGathered["copy"];
  readonly observedCopy?: CopyObservation;
  readonly observedJob?: JobObservation;
  readonly caps?: Partial<Capabilities>;
  readonly link?: Link<JobArrayView>;
}
const g = (m: Given): JobGathered => ({
  now,
  job: m.job,
  copy: "copy" in m ? m.copy : pc,
  link: m.link ?? linked({ copy: m.observedCopy, task: m.observedJob }, m.caps),
});
const intent = (j: CopyJobObject, at = "2026-11-24T02:00:00Z"): CopyJobObject => ({
  ...j,
  metadata: { ...j.metadata, annotations: { [startIntentAnnotation]: at } },
});

describe("CopyJob decide", () => {
  it.each([
    [
      "resync of a Frozen associated copy starts one Resync task",
      g({ job: job("Resync"), observedCopy: observed({}) }),
      { kind: "start", request: { copy: "dst", operation: "Resync" } },
    ],
    [
      "resync of a Broken copy ends at once: CIM forbids it",
      g({ job: job("Resync"), observedCopy: observed({ syncState: "Broken" }) }),
      { kind: "end", reason: "CopyBroken" },
    ],
    [
      "StartCopy may repair a Broken copy",
      g({ job: job("StartCopy"), observedCopy: observed({ syncState: "Broken" }) }),
      { kind: "start" },
    ],
    [
      "resync of an unassociated copy ends at once",
      g({ job: job("Resync"), observedCopy: observed(undefined) }),
      { kind: "end", reason: "NotAssociated" },
    ],
    [
      "a busy copy makes the job wait, not fail",
      g({ job: job("Resync"), observedCopy: observed({}, { activeJob: "3" }) }),
      { kind: "wait", reason: "CopyBusy" },
    ],
    ["a copy created then gone ends the job", g({ job: job("Resync") }), { kind: "end", reason: "CopyGone" }],
    [
      "a missing copy resource makes the job wait",
      g({ job: job("Resync"), copy: undefined }),
      { kind: "wait", reason: "WaitingForCopy" },
    ],
    [
      "Terminate before any task ends the job Terminated",
      g({ job: job("Resync", undefined, { requestedState: "Terminate" }), observedCopy: observed({}) }),
      { kind: "end", reason: "Terminated" },
    ],
    [
      "Terminate with a running task halts it",
      g({ job: job("Resync", { arrayJobId: "7" }, { requestedState: "Terminate" }), observedJob: task() }),
      { kind: "halt", id: "7" },
    ],
    [
      "the initial copy is created from the volumes in its own spec, not from another object's status",
      g({
        job: job("Copy", undefined, { volumes: { source: "vol-a", target: "vol-b" } }),
        copy: { ...pc, status: {} },
      }),
      { kind: "create", request: { name: "vol-b", source: "vol-a", online: false, saveSnapshot: true } },
    ],
    [
      "an engine that cannot resync ends a Resync job at once: NotSupported",
      g({ job: job("Resync"), observedCopy: observed({}), caps: { resync: false } }),
      { kind: "end", reason: "NotSupported" },
    ],
    [
      "an engine that cannot restore ends a Restore job at once: NotSupported",
      g({
        job: job("Restore"),
        copy: {
          metadata: { name: "c", namespace: "ns", uid: "u-c" },
          spec: { source: { volumeName: "src" }, readOnly: true },
        },
        caps: { restore: false },
      }),
      { kind: "end", reason: "NotSupported" },
    ],
    [
      "no class yet: the job waits for one",
      g({ job: job("Resync"), link: blockedAt("ClassNotFound") }),
      { kind: "wait", reason: "WaitingForClass" },
    ],
    [
      "an array that does not answer blocks the job, with the link's reason",
      g({ job: job("Resync"), link: blockedAt("ArrayUnavailable", "no answer") }),
      { kind: "blocked", blocked: { reason: "ArrayUnavailable" } },
    ],
    [
      "a copy being deleted gets no new task",
      g({
        job: job("Copy", undefined, { volumes: { source: "src", target: "dst" } }),
        copy: { ...pc, metadata: { ...pc.metadata, deletionTimestamp: "2026-11-24T00:00:00Z" } },
      }),
      { kind: "end", reason: "CopyGone" },
    ],
  ] as const)("%s", (_why, gathered, want) => {
    expect(decideJob(gathered)).toMatchObject(want);
  });

  it("a finished job is never acted on again, only expired by its TTL", () => {
    const finished = job(
      "Resync",
      {
        completionTime: "2026-11-24T01:59:00Z",
        conditions: [
          {
            type: "Succeeded",
            status: "True",
            reason: "Completed",
            message: "",
            lastTransitionTime: "2026-11-24T01:59:00Z",
          },
        ],
      },
      { ttlSecondsAfterFinished: 120 },
    );
    expect(decideJob(g({ job: finished, observedCopy: observed({}) }))).toEqual({ kind: "expire", afterMs: 60_000 });
  });

  it("adopts only a task of its own operation submitted since its intent", () => {
    const starting = intent(job("Resync"));
    expect(adoptable(starting, task())).toBe(true);
    expect(adoptable(starting, task({ operation: "StartCopy" }))).toBe(false);
    expect(adoptable(starting, task({ timeSubmitted: now - 60_000 }))).toBe(false);
    expect(adoptable(job("Resync"), task())).toBe(false);
    // A job that already recorded its task adopts nothing else.
    expect(adoptable(intent(job("Resync", { arrayJobId: "3" })), task())).toBe(false);
  });
});

describe("CopyJob status", () => {
  it("keeps the recorded task while the array cannot be observed (a lost arrayJobId could start a second task)", () => {
    const recorded = job("Resync", {
      jobState: "Running",
      arrayJobId: "7",
      percentComplete: 40,
      timeSubmitted: "2026-11-24T02:00:00Z",
    });
    const gathered = g({ job: recorded, link: blockedAt("ClassUnusable", "CopyClass x: unreachable") });
    const rep = jobReport(gathered, decideJob(gathered), {});
    expect(rep.fields).toMatchObject({
      jobState: "Running",
      arrayJobId: "7",
      percentComplete: 40,
      timeSubmitted: "2026-11-24T02:00:00Z",
    });
    expect(rep.conditions.find((c) => c.type === "Succeeded")).toMatchObject({
      status: "Unknown",
      reason: "ClassUnusable",
    });
    // Looked at again after as long as the job has waited, not backed off for ever.
    expect(rep.next).toMatchObject({ kind: "recheck", maxMs: 60_000 });
  });

  it("reports a failed task with the array's code and text, once, as a Warning", () => {
    const gathered = g({
      job: job("Resync", { arrayJobId: "7", jobState: "Running" }),
      observedJob: task({
        jobState: "Exception",
        operationalStatus: ["Completed", "Error"],
        errorCode: 34,
        errorDescription: "resynchronization snapshot in use",
        endTime: now,
      }),
    });
    const rep = jobReport(gathered, decideJob(gathered), {});
    expect(rep.fields).toMatchObject({
      jobState: "Exception",
      operationalStatus: ["Completed", "Error"],
      errorCode: 34,
      errorDescription: "resynchronization snapshot in use",
    });
    expect(rep.conditions.find((c) => c.type === "Succeeded")).toMatchObject({ status: "False", reason: "Failed" });
    expect(rep.events).toEqual([
      { type: "Warning", reason: "Failed", note: expect.stringContaining("(array error 34)") as string },
    ]);
  });
});
