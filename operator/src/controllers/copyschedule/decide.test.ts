import { describe, expect, it } from "vitest";
import {
  concurrency,
  copySchedule,
  deadline,
  keeping,
  lastScheduled,
  makingGroups,
  makingJobs,
  scheduleDeleting,
  scheduled,
  suspended,
  withoutScheduleFinalizer,
} from "../../../../test/support/builders.ts";
import type { CopyScheduleObject } from "../shared/objects.ts";
import { decideSchedule, madeKindOf, runName, scheduleOfRunName, type Made, type ScheduleGathered } from "./decide.ts";
import { scheduleReport } from "./status.ts";

const t = (s: string) => Date.parse(`${s}Z`);
const made = (name: string, at: string, m: Partial<Made> = {}): Made => ({
  name,
  at: t(at),
  state: "ready",
  deleting: false,
  refused: undefined,
  ...m,
});
const gathered = (
  schedule: CopyScheduleObject,
  now: string,
  items: Made[] = [],
  foreign: string[] = [],
): ScheduleGathered => ({ schedule, now: t(now), kind: "VirtualCopy", made: items, foreign: new Set(foreign) });
const tickOf = (g: ScheduleGathered) => {
  const plan = decideSchedule(g);
  return plan.kind === "run" ? plan.tick : undefined;
};

describe("runName", () => {
  it("is <schedule>-<yyyymmddhhmm> of the scheduled time in UTC, and leads back to the schedule", () => {
    expect(runName("db-nightly", t("2025-01-02T02:00:00"))).toBe("db-nightly-202501020200");
    expect(scheduleOfRunName("db-nightly-202501020200")).toBe("db-nightly");
    expect(scheduleOfRunName("db-nightly")).toBeUndefined();
  });
});

describe("madeKindOf", () => {
  it.each([
    { why: "a virtualCopyTemplate makes VirtualCopies", s: copySchedule("s"), kind: "VirtualCopy" },
    { why: "a virtualCopyGroupTemplate makes groups", s: copySchedule("s", makingGroups()), kind: "VirtualCopyGroup" },
    { why: "a copyJobTemplate makes CopyJobs", s: copySchedule("s", makingJobs()), kind: "CopyJob" },
  ])("$why", ({ s, kind }) => {
    expect(madeKindOf(s)).toBe(kind);
  });

  it("prunes groups as copies, naming the kind in the event", () => {
    const g: ScheduleGathered = {
      ...gathered(copySchedule("s", makingGroups(), keeping({ keepLast: 1 })), "2025-01-03T03:00:00", [
        made("s-202501010200", "2025-01-01T02:00:00"),
        made("s-202501020200", "2025-01-02T02:00:00", { state: "running" }),
        made("s-202501030200", "2025-01-03T02:00:00"),
      ]),
      kind: "VirtualCopyGroup",
    };
    const plan = decideSchedule(g);
    expect(plan).toMatchObject({ kind: "run", keep: ["s-202501030200"], prune: [{ name: "s-202501010200" }] });
    const rep = scheduleReport(g, plan, { pruned: ["s-202501010200"] });
    expect(rep.events).toContainEqual(
      expect.objectContaining({ reason: "Pruned", note: "Deleted VirtualCopyGroup s-202501010200 (retention)" }),
    );
  });
});

describe("decideSchedule: the run that is due", () => {
  it.each([
    {
      why: "nothing is due before the first time after the schedule's creation",
      g: gathered(copySchedule("s"), "2025-01-01T01:59:00"),
      tick: { kind: "none" },
    },
    {
      why: "the first time after creation is made",
      g: gathered(copySchedule("s"), "2025-01-01T02:00:30"),
      tick: { kind: "make", name: "s-202501010200", replace: [] },
    },
    {
      why: "a time already recorded is not made again",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z")), "2025-01-01T05:00:00"),
      tick: { kind: "none" },
    },
    {
      why: "a restart between the create and the status write finds the object and records it, making none",
      g: gathered(copySchedule("s"), "2025-01-01T02:00:05", [made("s-202501010200", "2025-01-01T02:00:00")]),
      tick: { kind: "exists", name: "s-202501010200" },
    },
    {
      why: "missed runs (the operator was down three nights) are made once: the latest only",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z")), "2025-01-04T09:00:00"),
      tick: { kind: "make", name: "s-202501040200" },
    },
    {
      why: "a run past startingDeadlineSeconds is skipped, counting what was missed",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), deadline(3600)), "2025-01-04T09:00:00"),
      tick: { kind: "missed", missed: 3, lateMs: 7 * 3_600_000 },
    },
    {
      why: "a run within its deadline is made",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), deadline(3600)), "2025-01-02T02:30:00"),
      tick: { kind: "make", name: "s-202501020200" },
    },
    {
      why: "Forbid waits while a run goes on, until the deadline",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), deadline(600)), "2025-01-02T02:00:10", [
        made("s-202501010200", "2025-01-01T02:00:00", { state: "running" }),
      ]),
      tick: { kind: "waiting", blockers: ["s-202501010200"], until: t("2025-01-02T02:10:00") },
    },
    {
      why: "Forbid is not held up by a finished run, failed or not",
      g: gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z")), "2025-01-02T02:00:10", [
        made("s-202501010200", "2025-01-01T02:00:00", { state: "failed" }),
      ]),
      tick: { kind: "make", name: "s-202501020200" },
    },
    {
      why: "Replace replaces the running one",
      g: gathered(
        copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), concurrency("Replace")),
        "2025-01-02T02:00:10",
        [made("s-202501010200", "2025-01-01T02:00:00", { state: "running" })],
      ),
      tick: { kind: "make", name: "s-202501020200", replace: [expect.objectContaining({ name: "s-202501010200" })] },
    },
    {
      why: "Allow makes it beside the running one",
      g: gathered(
        copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), concurrency("Allow")),
        "2025-01-02T02:00:10",
        [made("s-202501010200", "2025-01-01T02:00:00", { state: "running" })],
      ),
      tick: { kind: "make", name: "s-202501020200", replace: [] },
    },
    {
      why: "an object of another owner under the run's name is NameTaken",
      g: gathered(copySchedule("s"), "2025-01-01T02:00:30", [], ["s-202501010200"]),
      tick: { kind: "taken", name: "s-202501010200" },
    },
    {
      why: "a suspended schedule makes nothing",
      g: gathered(copySchedule("s", suspended()), "2025-01-03T02:00:30"),
      tick: { kind: "none" },
    },
    {
      why: "the time zone moves the run: 02:00 in Tokyo is 17:00 UTC the day before",
      g: gathered(copySchedule("s", scheduled("0 2 * * *", "Asia/Tokyo")), "2025-01-01T17:00:01"),
      tick: { kind: "make", name: "s-202501011700" },
    },
  ])("$why", ({ g, tick }) => {
    expect(tickOf(g)).toMatchObject(tick);
  });

  it("a cron the library refuses is invalid, and asks for the finalizer all the same", () => {
    const plan = decideSchedule(
      gathered(copySchedule("s", scheduled("0 0 31 2 *"), withoutScheduleFinalizer()), "2025-01-02T00:00:00"),
    );
    expect(plan).toMatchObject({ kind: "invalid", reason: "InvalidSchedule", addFinalizer: true });
  });

  it("prunes by retention, leaving copies being deleted out of the count", () => {
    const plan = decideSchedule(
      gathered(
        copySchedule("s", keeping({ keepLast: 1 }), lastScheduled("2025-01-03T02:00:00Z")),
        "2025-01-03T03:00:00",
        [
          made("a", "2025-01-01T02:00:00"),
          made("b", "2025-01-02T02:00:00", { deleting: true }),
          made("c", "2025-01-03T02:00:00"),
        ],
      ),
    );
    expect(plan).toMatchObject({ kind: "run", keep: ["c"], prune: [expect.objectContaining({ name: "a" })] });
  });
});

describe("decideSchedule: deletion", () => {
  it.each([
    {
      why: "deletes what it made and waits",
      items: [made("a", "2025-01-01T02:00:00"), made("b", "2025-01-02T02:00:00", { deleting: true })],
      remove: ["a"],
      release: false,
    },
    {
      why: "lets go once nothing it made remains",
      items: [],
      remove: [],
      release: true,
    },
    {
      why: "lets go when what remains is being deleted and the array refuses (retention hours)",
      items: [made("a", "2025-01-01T02:00:00", { deleting: true, refused: "the array refuses: Retained" })],
      remove: [],
      release: true,
    },
    {
      why: "waits for a copy still being deleted",
      items: [made("a", "2025-01-01T02:00:00", { deleting: true })],
      remove: [],
      release: false,
    },
  ])("$why", ({ items, remove, release }) => {
    const plan = decideSchedule(gathered(copySchedule("s", scheduleDeleting()), "2025-01-05T00:00:00", items));
    expect(plan.kind).toBe("finalize");
    if (plan.kind !== "finalize") return;
    expect(plan.remove.map((m) => m.name)).toEqual(remove);
    expect(plan.release).toBe(release);
  });
});

describe("scheduleReport", () => {
  const report = (g: ScheduleGathered, outcome = {}) => scheduleReport(g, decideSchedule(g), outcome);
  const ready = (r: ReturnType<typeof report>) => r.conditions.find((c) => c.type === "Ready");

  it("a schedule with no run yet is Ready (Scheduled) and says when the next run is", () => {
    const r = report(gathered(copySchedule("s"), "2025-01-01T01:00:00"));
    expect(ready(r)).toMatchObject({ status: "True", reason: "Scheduled" });
    expect(r.fields.nextScheduleTime).toBe("2025-01-01T02:00:00Z");
    expect(r.next).toEqual({ kind: "after", ms: 3_600_000 });
  });

  it("a run made records its time, shows as running and says so in an event", () => {
    const r = report(gathered(copySchedule("s"), "2025-01-01T02:00:01"), { created: true });
    expect(r.fields).toMatchObject({
      lastScheduleTime: "2025-01-01T02:00:00Z",
      active: ["s-202501010200"],
      lastRun: { name: "s-202501010200", result: "Running" },
    });
    expect(r.events.map((e) => e.reason)).toEqual(["Created"]);
  });

  it("Ready follows the newest finished run: a failed one is LastRunFailed, with a RunFailed event", () => {
    const g = gathered(copySchedule("s", lastScheduled("2025-01-02T02:00:00Z")), "2025-01-02T03:00:00", [
      made("s-202501010200", "2025-01-01T02:00:00"),
      made("s-202501020200", "2025-01-02T02:00:00", { state: "failed" }),
    ]);
    const r = report(g);
    expect(ready(r)).toMatchObject({ status: "False", reason: "LastRunFailed" });
    expect(r.conditions.find((c) => c.type === "Stalled")).toMatchObject({ status: "False" });
    expect(r.events).toEqual([expect.objectContaining({ type: "Warning", reason: "RunFailed" })]);
    expect(r.fields).toMatchObject({ lastSuccessfulTime: "2025-01-01T02:00:00Z", counts: { ready: 1, failed: 1 } });
  });

  it("an invalid schedule is Stalled with its reason and a Warning, and waits for a change", () => {
    const r = report(gathered(copySchedule("s", scheduled("0 2 * * *", "Nowhere/Land")), "2025-01-01T01:00:00"));
    expect(r.conditions.map((c) => [c.type, c.status, c.reason])).toEqual([
      ["Ready", "False", "InvalidTimeZone"],
      ["Reconciling", "False", "InvalidTimeZone"],
      ["Stalled", "True", "InvalidTimeZone"],
    ]);
    expect(r.events.map((e) => e.reason)).toEqual(["InvalidTimeZone"]);
    expect(r.next).toEqual({ kind: "done" });
  });

  it("reports a copy whose deletion the array refuses once, and lists it", () => {
    const g = gathered(copySchedule("s", lastScheduled("2025-01-02T02:00:00Z")), "2025-01-02T03:00:00", [
      made("a", "2025-01-01T02:00:00", { deleting: true, refused: "Retained until tomorrow" }),
      made("b", "2025-01-02T02:00:00"),
    ]);
    const r = report(g);
    expect(r.fields.deletionRefused).toEqual([{ name: "a", message: "Retained until tomorrow" }]);
    expect(r.events.map((e) => e.reason)).toContain("DeletionRefused");
    const again = report({
      ...g,
      schedule: { ...g.schedule, status: { ...g.schedule.status, ...r.fields } },
    });
    expect(again.events.map((e) => e.reason)).not.toContain("DeletionRefused");
  });

  it("a missed run is recorded as scheduled, with a Warning naming the deadline", () => {
    const r = report(
      gathered(copySchedule("s", lastScheduled("2025-01-01T02:00:00Z"), deadline(60)), "2025-01-02T02:05:00"),
    );
    expect(r.fields.lastScheduleTime).toBe("2025-01-02T02:00:00Z");
    expect(r.events).toEqual([
      expect.objectContaining({
        type: "Warning",
        reason: "MissedSchedule",
        note: "Skipped the run due at 2025-01-02T02:00:00Z: 300 s late, past startingDeadlineSeconds (60)",
      }),
    ]);
  });
});
