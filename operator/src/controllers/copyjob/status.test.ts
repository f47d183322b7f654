// CopyJob status: each case is what the array's task (or the attempt to start it) shows, and the CIM job fields,
// the Succeeded / Reconciling / Stalled conditions, the events and the next step it must give.
import { describe, expect, it } from "vitest";
import {
  copyJob,
  blockedAt,
  linked,
  jobObservation,
  jobSubmitted,
  pcResolved,
  pcWithFinalizer,
  physicalCopy,
} from "../../../../test/support/builders.ts";
import { arrayError, EngineError } from "../../engine/errors.ts";
import type { JobGathered, JobPlan } from "./decide.ts";
import { jobReport, type JobOutcome } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const copy = physicalCopy("copy", pcWithFinalizer(), pcResolved());
const gathered = (m: Partial<JobGathered> = {}): JobGathered => ({
  job: copyJob("resync", "Resync", jobSubmitted("7")),
  now,
  copy,
  link: linked({ copy: undefined, task: undefined }),
  ...m,
});
const follow = (t = jobObservation()): JobPlan => ({ kind: "follow", task: t });

interface Case {
  readonly name: string;
  readonly g: JobGathered;
  readonly plan: JobPlan;
  readonly outcome?: JobOutcome;
  /** Succeeded / Reconciling / Stalled, and their reason. */
  readonly conditions: readonly [string, string, string];
  readonly reason: string;
  readonly fields: Record<string, unknown>;
  readonly events: readonly string[];
  readonly next: string;
}

const cases: readonly Case[] = [
  {
    name: "a queued task (New) is Unknown and Queued, polled as a safety net",
    g: gathered(),
    plan: follow(
      jobObservation({ jobState: "New", operationalStatus: ["Dormant"], percentComplete: 0, startTime: undefined }),
    ),
    conditions: ["Unknown", "True", "False"],
    reason: "Queued",
    fields: { jobState: "New", arrayJobId: "7", percentComplete: 0 },
    events: [],
    next: "after 10000",
  },
  {
    name: "a running task shows PercentComplete",
    g: gathered(),
    plan: follow(),
    conditions: ["Unknown", "True", "False"],
    reason: "Running",
    fields: { jobState: "Running", percentComplete: 40, startTime: "2026-11-24T01:00:01Z" },
    events: [],
    next: "after 10000",
  },
  {
    name: "the first observation of a started task fires Started",
    g: gathered({ job: copyJob("resync", "Resync", jobSubmitted()) }),
    plan: follow(),
    conditions: ["Unknown", "True", "False"],
    reason: "Running",
    fields: { arrayJobId: "7", timeSubmitted: "2026-11-24T01:00:00Z" },
    events: ["Normal Started"],
    next: "after 10000",
  },
  {
    name: "Completed with OK is Succeeded, for good, with its elapsed time",
    g: gathered(),
    plan: follow(
      jobObservation({
        jobState: "Completed",
        operationalStatus: ["Completed", "OK"],
        percentComplete: 100,
        endTime: Date.parse("2026-11-24T01:01:01Z"),
      }),
    ),
    conditions: ["True", "False", "False"],
    reason: "Completed",
    fields: { operationalStatus: ["Completed", "OK"], completionTime: "2026-11-24T01:01:01Z", elapsedSeconds: 60 },
    events: ["Normal Succeeded"],
    next: "done",
  },
  {
    name: "an Exception carries the array's code and text, and fires a Warning",
    g: gathered(),
    plan: follow(
      jobObservation({
        jobState: "Exception",
        operationalStatus: ["Completed", "Error"],
        errorCode: 24,
        errorDescription: "no space",
        endTime: now,
      }),
    ),
    conditions: ["False", "False", "True"],
    reason: "Failed",
    fields: { errorCode: 24, errorDescription: "no space" },
    events: ["Warning Failed"],
    next: "done",
  },
  {
    name: "a terminated task is Succeeded False, Terminated, a Normal event",
    g: gathered(),
    plan: follow(jobObservation({ jobState: "Terminated", operationalStatus: ["Completed", "Aborted"], endTime: now })),
    conditions: ["False", "False", "True"],
    reason: "Terminated",
    fields: { jobState: "Terminated" },
    events: ["Normal Terminated"],
    next: "done",
  },
  {
    name: "a start the array refuses for good ends the job in Exception with the array's code",
    g: gathered({ job: copyJob("resync", "Resync", jobSubmitted()) }),
    plan: {
      kind: "start",
      request: {
        copy: "test-env",
        owner: { namespace: "ns", name: "copy", uid: copy.metadata.uid },
        operation: "Resync",
      },
    },
    outcome: { error: arrayError("NO_SPACE", "no space on the array") },
    conditions: ["False", "False", "True"],
    reason: "Refused",
    fields: { jobState: "Exception", operationalStatus: ["Completed", "Error"], errorCode: 24 },
    events: ["Warning Failed"],
    next: "done",
  },
  {
    name: "a start that got no answer keeps the intent and is looked at again, sooner the newer it is",
    g: gathered({ job: copyJob("resync", "Resync", jobSubmitted()) }),
    plan: {
      kind: "start",
      request: {
        copy: "test-env",
        owner: { namespace: "ns", name: "copy", uid: copy.metadata.uid },
        operation: "Resync",
      },
    },
    outcome: { error: new EngineError("no answer", { code: "Timeout" }) },
    conditions: ["Unknown", "True", "False"],
    reason: "ArrayUnavailable",
    fields: { jobState: "Starting", timeSubmitted: "2026-11-24T01:00:00Z" },
    events: [],
    next: "recheck",
  },
  {
    name: "an array that refuses our credentials waits 30 s, the recorded task kept",
    g: gathered({
      link: blockedAt("ArrayUnavailable", "", new EngineError("cannot log in (5)", { code: "AccessDenied" })),
    }),
    plan: {
      kind: "blocked",
      blocked: {
        reason: "ArrayUnavailable",
        message: "cannot log in (5)",
        cls: {
          name: "embedded",
          generation: 1,
          spec: { driver: "embedded", csiDriver: "csi.hpe.com", deletionPolicy: "Delete" },
        },
        error: new EngineError("cannot log in (5)", { code: "AccessDenied" }),
      },
    },
    conditions: ["Unknown", "True", "False"],
    reason: "ArrayAccessDenied",
    fields: { arrayJobId: "7", jobState: "Running" },
    events: [],
    next: "after 30000",
  },
  {
    name: "an impossible request ends at once: a Broken copy cannot be resynchronised",
    g: gathered({ job: copyJob("resync", "Resync") }),
    plan: { kind: "end", reason: "CopyBroken", message: "copy is Broken" },
    conditions: ["False", "False", "True"],
    reason: "CopyBroken",
    fields: { jobState: "Exception", operationalStatus: ["Completed", "Error"] },
    events: ["Warning Failed"],
    next: "done",
  },
];

describe("CopyJob status", () => {
  it.each(cases)("$name", (c) => {
    const rep = jobReport(c.g, c.plan, c.outcome ?? {});
    const byType = new Map(rep.conditions.map((x) => [x.type, x]));
    expect([byType.get("Succeeded")?.status, byType.get("Reconciling")?.status, byType.get("Stalled")?.status]).toEqual(
      c.conditions,
    );
    expect(byType.get("Succeeded")?.reason).toBe(c.reason);
    expect(rep.fields).toMatchObject(c.fields);
    expect(rep.events.map((e) => `${e.type} ${e.reason}`)).toEqual(c.events);
    const next = rep.next.kind === "after" ? `after ${String(rep.next.ms)}` : rep.next.kind;
    expect(next).toBe(c.next);
  });

  it("a job that recorded its start intent and got no answer yet shows Starting, with the intent's time", () => {
    const g = gathered({ job: copyJob("resync", "Resync", jobSubmitted()) });
    const rep = jobReport(
      g,
      { kind: "start", request: { copy: "test-env", owner: ownerOf(), operation: "Resync" } },
      {},
    );
    expect(rep.fields).toMatchObject({ jobState: "Starting", timeSubmitted: "2026-11-24T01:00:00Z" });
    expect(rep.conditions.find((c) => c.type === "Succeeded")).toMatchObject({ status: "Unknown", reason: "Starting" });
  });
});

function ownerOf() {
  return { namespace: "ns", name: "copy", uid: copy.metadata.uid };
}
