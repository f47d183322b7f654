import { describe, expect, it } from "vitest";
import {
  blockedAt,
  copyJob,
  copyObservation,
  jobObservation,
  jobSubmitted,
  linked,
  type JobMod,
} from "../../../../test/support/builders.ts";
import type { MemberJobStatus } from "../../api/copyjob.ts";
import { EngineError } from "../../engine/errors.ts";
import type { CopyObservation, JobObservation } from "../../engine/port.ts";
import type { CopyJobObject, VirtualCopyGroupObject } from "../shared/objects.ts";
import { decideGroupJob, type GroupJobGathered, type MemberView } from "./group-decide.ts";
import { groupJobReport, type GroupJobOutcome } from "./group-status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const owner = { namespace: "ns", name: "db", uid: "u-g" };
const prefix = "vg-0000000000000000000000-";
const bases = ["data", "wal", "logs"];

const group = (mods: Partial<VirtualCopyGroupObject["metadata"]> = {}): VirtualCopyGroupObject => ({
  metadata: { name: "db", namespace: "ns", uid: "u-g", ...mods },
  spec: { members: { volumes: bases }, readOnly: true },
  status: {
    creationTime: "2026-11-24T01:00:00Z",
    members: bases.map((v, i) => ({ arrayName: `${prefix}${i}`, sourceVolume: v, ready: true })),
  },
});

const groupJob = (...mods: JobMod[]) =>
  copyJob("restore", "Restore", (j) => {
    j.spec = { ...j.spec, copyRef: { kind: "VirtualCopyGroup", name: "db" } };
    for (const m of mods) m(j);
  });
const recorded =
  (members: MemberJobStatus[]): JobMod =>
  (j) => {
    j.status = { ...j.status, members };
  };

const task = (i: number, mods: Partial<JobObservation> = {}): JobObservation =>
  jobObservation({ id: `t${i}`, operation: "Restore", copy: `${prefix}${i}`, ...mods });
const done = (i: number) =>
  task(i, { jobState: "Completed", operationalStatus: ["Completed", "OK"], percentComplete: 100, endTime: now });
const view = (i: number, t?: JobObservation, copy: Partial<CopyObservation> | null = {}): MemberView => ({
  arrayName: `${prefix}${i}`,
  sourceVolume: bases[i] ?? "",
  copy: copy === null ? undefined : copyObservation({ name: `${prefix}${i}`, source: bases[i] ?? "", owner, ...copy }),
  task: t,
});
const gathered = (job: CopyJobObject, views: MemberView[], g: VirtualCopyGroupObject | undefined = group()) => ({
  job,
  now,
  group: g,
  link: linked(views),
});

describe("decideGroupJob", () => {
  it.each<{ why: string; g: GroupJobGathered; plan: Record<string, unknown> }>([
    {
      why: "the first member is started once every member was checked",
      g: gathered(groupJob(), [view(0), view(1), view(2)]),
      plan: { kind: "start", member: 0, copy: `${prefix}0`, owner },
    },
    {
      why: "the next member without a task is started, one per pass",
      g: gathered(groupJob(jobSubmitted()), [view(0, task(0)), view(1), view(2)]),
      plan: { kind: "start", member: 1, copy: `${prefix}1` },
    },
    {
      why: "a member copy gone from the array ends the job before anything starts (no restore in part)",
      g: gathered(groupJob(), [view(0), view(1, undefined, null), view(2)]),
      plan: { kind: "end", reason: "CopyGone" },
    },
    {
      why: "a member busy with another task holds the whole group back before the first start",
      g: gathered(groupJob(), [view(0), view(1), view(2, undefined, { activeJob: "99" })]),
      plan: { kind: "wait", reason: "CopyBusy" },
    },
    {
      why: "a member busy with a task not adopted (the cache lags the intent) is never started twice",
      g: gathered(groupJob(jobSubmitted()), [view(0, task(0)), view(1, undefined, { activeJob: "t1" }), view(2)]),
      plan: { kind: "wait", reason: "CopyBusy" },
    },
    {
      why: "a group whose copies are not made yet is waited for",
      g: gathered(groupJob(), [], { ...group(), status: {} }),
      plan: { kind: "wait", reason: "WaitingForCopy" },
    },
    {
      why: "a group being deleted is not restored",
      g: gathered(groupJob(), [view(0), view(1), view(2)], group({ deletionTimestamp: "2026-11-24T01:30:00Z" })),
      plan: { kind: "end", reason: "CopyGone" },
    },
    {
      why: "a failed member stops the starts: the others run to their end, none is started",
      g: gathered(groupJob(jobSubmitted()), [
        view(0, task(0)),
        view(1, task(1, { jobState: "Exception", operationalStatus: ["Completed", "Error"] })),
        view(2),
      ]),
      plan: { kind: "follow" },
    },
    {
      why: "a refused start (recorded) stops the starts too",
      g: gathered(
        groupJob(
          jobSubmitted(),
          recorded([{ arrayName: `${prefix}0`, sourceVolume: "data", jobState: "Exception", errorCode: 0 }]),
        ),
        [view(0), view(1), view(2)],
      ),
      plan: { kind: "follow" },
    },
    {
      why: "Terminate halts a running member",
      g: gathered(
        groupJob(jobSubmitted(), (j) => {
          j.spec = { ...j.spec, requestedState: "Terminate" };
        }),
        [view(0, done(0)), view(1, task(1)), view(2)],
      ),
      plan: { kind: "halt", member: 1, id: "t1", owner },
    },
    {
      why: "Terminate before any start ends the job at once",
      g: gathered(
        groupJob((j) => {
          j.spec = { ...j.spec, requestedState: "Terminate" };
        }),
        [view(0), view(1), view(2)],
      ),
      plan: { kind: "end", reason: "Terminated" },
    },
    {
      why: "an engine that cannot restore ends the job as NotSupported",
      g: { ...gathered(groupJob(), [view(0)]), link: linked([view(0)], { restore: false }) },
      plan: { kind: "end", reason: "NotSupported" },
    },
    {
      why: "an unreachable array blocks the job",
      g: { ...gathered(groupJob(), []), link: blockedAt("ArrayUnavailable") },
      plan: { kind: "blocked" },
    },
  ])("$why", ({ g, plan }) => {
    expect(decideGroupJob(g)).toMatchObject(plan);
  });
});

const report = (g: GroupJobGathered, outcome: GroupJobOutcome = {}) => groupJobReport(g, decideGroupJob(g), outcome);
const succeeded = (r: ReturnType<typeof report>) => r.conditions.find((c) => c.type === "Succeeded");

describe("groupJobReport", () => {
  it("runs while members run or are to start, with the members listed and the mean progress", () => {
    const r = report(gathered(groupJob(jobSubmitted()), [view(0, done(0)), view(1, task(1)), view(2)]));
    expect(succeeded(r)).toMatchObject({ status: "Unknown", reason: "Running" });
    expect(r.fields).toMatchObject({ jobState: "Running", percentComplete: 46 });
    expect((r.fields.members as MemberJobStatus[]).map((m) => [m.arrayJobId, m.jobState])).toEqual([
      ["t0", "Completed"],
      ["t1", "Running"],
      [undefined, "New"],
    ]);
    expect(r.next).toEqual({ kind: "after", ms: 10_000 });
  });

  it("is Completed only when every member completed", () => {
    const started = recorded(
      bases.map((v, i) => ({ arrayName: `${prefix}${i}`, sourceVolume: v, arrayJobId: `t${i}` })),
    );
    const r = report(
      gathered(groupJob(jobSubmitted(), started), [view(0, done(0)), view(1, done(1)), view(2, done(2))]),
    );
    expect(succeeded(r)).toMatchObject({ status: "True", reason: "Completed" });
    expect(r.fields).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    expect(r.events.map((e) => e.reason)).toEqual(["Succeeded"]);
    expect(r.next).toEqual({ kind: "done" });
  });

  it("records a refused start as the member's failure and ends Exception naming it and the ones not started", () => {
    const job = groupJob(jobSubmitted());
    const g = gathered(job, [view(0, done(0)), view(1), view(2)]);
    const refusal = new EngineError("wal has grown since the copy was taken", { code: "InvalidState" });
    const r = groupJobReport(g, decideGroupJob(g), { member: 1, error: refusal });
    expect(succeeded(r)).toMatchObject({ status: "False", reason: "Failed" });
    expect(succeeded(r)?.message).toContain(`failed on member ${prefix}1 (onto wal): wal has grown`);
    expect(succeeded(r)?.message).toContain(`not started: ${prefix}2`);
    expect(r.fields).toMatchObject({
      jobState: "Exception",
      operationalStatus: ["Completed", "Error"],
      errorDescription: `${prefix}1: wal has grown since the copy was taken`,
    });
    expect(r.events).toContainEqual(expect.objectContaining({ type: "Warning", reason: "Failed" }));
  });

  it("waits for the running members after a failure before it ends", () => {
    const failed = task(0, { jobState: "Exception", operationalStatus: ["Completed", "Error"], errorCode: 5 });
    const r = report(gathered(groupJob(jobSubmitted()), [view(0, failed), view(1, task(1)), view(2)]));
    expect(succeeded(r)).toMatchObject({ status: "Unknown", reason: "Running" });
    expect(succeeded(r)?.message).toContain("waiting for the running members");
  });

  it("is Terminated when cancelled with members not run", () => {
    const halted = task(1, { jobState: "Terminated", operationalStatus: ["Completed", "Aborted"], endTime: now });
    const job = groupJob(jobSubmitted(), (j) => {
      j.spec = { ...j.spec, requestedState: "Terminate" };
    });
    const r = report(gathered(job, [view(0, done(0)), view(1, halted), view(2)]));
    expect(succeeded(r)).toMatchObject({ status: "False", reason: "Terminated" });
    expect(r.fields).toMatchObject({ jobState: "Terminated" });
  });

  it("emits Started for each member whose task first shows", () => {
    const job = groupJob(
      jobSubmitted(),
      recorded([{ arrayName: `${prefix}0`, sourceVolume: "data", arrayJobId: "t0" }]),
    );
    const r = report(gathered(job, [view(0, task(0)), view(1, task(1)), view(2)]));
    expect(r.events.filter((e) => e.reason === "Started").map((e) => e.note)).toEqual([
      expect.stringContaining(`member ${prefix}1 onto wal (array task t1)`),
    ]);
  });

  it("reads as a single job while nothing has started: waiting, members listed as New", () => {
    const r = report(gathered(groupJob(), [view(0), view(1), view(2, undefined, { activeJob: "99" })]));
    expect(succeeded(r)).toMatchObject({ status: "Unknown", reason: "CopyBusy" });
    expect((r.fields.members as MemberJobStatus[]).map((m) => m.jobState)).toEqual(["New", "New", "New"]);
  });
});
