// CopySchedule end to end on the real apiserver with the embedded engine, with the schedule controller's clock
// injected (a ShiftedClock: real time passes as usual and the test jumps it to each run's time, so no test waits
// for a nightly run). Each test runs its own operator, so each starts with the clock at the wall clock: a
// schedule's first run is the first time after its creation.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { parseCron } from "../../operator/src/controllers/copyschedule/cron.ts";
import { runName } from "../../operator/src/controllers/copyschedule/decide.ts";
import { ShiftedClock } from "../../operator/src/kube/clock.ts";
import type { Engine, VolumeOps } from "../../operator/src/engine/port.ts";
import type { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  eventsFor,
  getObject,
  startOperator,
  waitForCondition,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const api = "arraycopy.io/v1alpha1";
const cls = `sched-it-${Math.random().toString(36).slice(2, 7)}`;
const nightly = "0 2 * * *";

interface Obj {
  metadata: { name: string; deletionTimestamp?: string; labels?: Record<string, string> };
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}
interface Schedule extends Obj {
  status?: Obj["status"] & {
    lastScheduleTime?: string;
    lastSuccessfulTime?: string;
    nextScheduleTime?: string;
    lastRun?: { name: string; result: string };
    kept?: string[];
    active?: string[];
    deletionRefused?: { name: string; message: string }[];
    counts?: Record<string, number>;
  };
}

let running: { op: RunningOperator; namespace: string } | undefined;

interface Booted {
  readonly op: RunningOperator;
  readonly clock: ShiftedClock;
  readonly ns: string;
  readonly engine: Engine & { volumes: VolumeOps };
}

/** An operator of its own, a schedule clock at the wall clock, a fresh namespace and the volume "data". */
async function boot(registry?: EngineRegistry, clock = new ShiftedClock()): Promise<Booted> {
  const ns = freshNamespace("sched");
  const op = startOperator([], { scheduleClock: clock, ...(registry === undefined ? {} : { registry }) });
  running = { op, namespace: ns };
  const engine = await op.engine(cls);
  await engine.volumes.createVolume("data", 1 << 20);
  return { op, clock, ns, engine };
}

afterEach(async () => {
  if (running === undefined) return;
  await running.op.stop();
  // What a test left: its operator is gone, so nothing would remove the finalizers.
  for (const kind of ["copyschedule", "virtualcopy", "virtualcopygroup", "copyjob", "physicalcopy"]) {
    const names = kubectl(["get", kind, "-n", running.namespace, "-o", "name"]).stdout.trim().split("\n");
    for (const n of names.filter((x) => x !== "")) {
      kubectl(["patch", n, "-n", running.namespace, "--type=merge", "-p", '{"metadata":{"finalizers":null}}']);
      kubectl(["delete", n, "-n", running.namespace, "--wait=false", "--ignore-not-found"]);
    }
  }
  running = undefined;
});

beforeAll(() => {
  installCrds();
  applyYaml(embeddedClass(cls));
});

const schedule = (ns: string, name: string, spec: Record<string, unknown>) => ({
  apiVersion: api,
  kind: "CopySchedule",
  metadata: { name, namespace: ns },
  spec: { schedule: nightly, ...spec },
});
const snapshotTemplate = (spec: Record<string, unknown> = {}) => ({
  virtualCopyTemplate: {
    metadata: { labels: { app: "db" } },
    spec: { copyClassName: cls, source: { volumeName: "data" }, ...spec },
  },
});

/** The first time of `expr` strictly after `t`. */
function nextRun(expr: string, t: number): number {
  const p = parseCron(expr, undefined);
  const next = p.ok ? p.cron.next(t) : undefined;
  if (next === undefined) throw new Error(`no time after ${new Date(t).toISOString()}`);
  return next;
}

/** Jumps the schedule clock just past the next run of the nightly schedule, and returns that run's time. */
function jumpToNextRun(clock: ShiftedClock, expr = nightly): number {
  const at = nextRun(expr, clock.now());
  clock.jumpTo(at + 1_000);
  return at;
}

const get = (ns: string, name: string) => getObject<Schedule>("copyschedule", ns, name);
function made(ns: string, kind: "virtualcopy" | "virtualcopygroup" | "copyjob", sched: string): Obj[] {
  const out = kubectlOk(["get", kind, "-n", ns, "-l", `arraycopy.io/schedule=${sched}`, "-o", "json"]);
  return (JSON.parse(out) as { items: Obj[] }).items;
}
/** Merges `spec` into the schedule's, and waits until its controller has seen it (so the next run uses it). */
async function retemplate(ns: string, name: string, spec: Record<string, unknown>): Promise<void> {
  kubectlOk(["patch", "copyschedule", name, "-n", ns, "--type=merge", "-p", JSON.stringify({ spec })]);
  await eventually(() => {
    const s = getObject<Schedule & { metadata: { generation?: number } }>("copyschedule", ns, name);
    expect(s?.status?.observedGeneration).toBe(s?.metadata.generation);
  });
}
const iso = (t: number) => new Date(t).toISOString().replace(/\.\d+Z$/, "Z");

describe("CopySchedule", () => {
  it("is Ready once scheduled, makes a labelled, owned copy at its time, then shows the run succeeded", async () => {
    const { clock, ns } = await boot();
    applyYaml(schedule(ns, "db", snapshotTemplate()));
    const first = await waitForCondition<Schedule>("copyschedule", ns, "db", "Ready");
    expect(conditionOf(first, "Ready")?.reason).toBe("Scheduled");
    const at = nextRun(nightly, clock.now());
    expect(first.status?.nextScheduleTime).toBe(iso(at));
    clock.jumpTo(at + 1_000);
    const name = runName("db", at);
    const copy = await waitForCondition<Obj>("virtualcopy", ns, name, "Ready");
    expect(copy.metadata.labels).toMatchObject({ app: "db", "arraycopy.io/schedule": "db" });
    await eventually(() => {
      const s = get(ns, "db");
      expect(conditionOf(s, "Ready")).toMatchObject({ status: "True", reason: "LastRunSucceeded" });
      expect(s?.status).toMatchObject({
        lastScheduleTime: iso(at),
        lastSuccessfulTime: iso(at),
        nextScheduleTime: iso(at + 86_400_000),
        lastRun: { name, result: "Succeeded" },
        kept: [name],
        counts: { total: 1, ready: 1, failed: 0, running: 0, deleting: 0 },
      });
      expect(eventsFor(ns, "db").map((e) => e.reason)).toEqual(expect.arrayContaining(["Created", "RunSucceeded"]));
    });
    const [header, row] = kubectlOk(["get", "copyschedule", "db", "-n", ns]).trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["NAME", "SCHEDULE", "SUSPEND", "KEPT", "LASTSCHEDULE", "READY", "AGE"]);
    expect(row).toMatch(/^db\s+0 2 \* \* \*\s+false\s+1\s+\S+\s+True\s+\S+$/);
  });

  it("makes exactly one copy for a run when restarted between the create and the status write", async () => {
    const { op, clock, ns } = await boot();
    applyYaml(schedule(ns, "restart", snapshotTemplate()));
    await waitForCondition("copyschedule", ns, "restart", "Ready");
    const at = jumpToNextRun(clock);
    await eventually(() => {
      expect(made(ns, "virtualcopy", "restart")).toHaveLength(1);
    });
    await op.stop(true);
    running = undefined;
    // What a crash before the status write leaves: the copy exists, the schedule does not say it was made.
    kubectl([
      "patch",
      "copyschedule",
      "restart",
      "-n",
      ns,
      "--subresource=status",
      "--type=json",
      "-p",
      '[{"op":"remove","path":"/status/lastScheduleTime"}]',
    ]);
    expect(get(ns, "restart")?.status?.lastScheduleTime).toBeUndefined();
    const again = startOperator([], { scheduleClock: clock, registry: op.registry });
    running = { op: again, namespace: ns };
    await eventually(() => {
      expect(get(ns, "restart")?.status?.lastScheduleTime).toBe(iso(at));
    });
    expect(made(ns, "virtualcopy", "restart").map((o) => o.metadata.name)).toEqual([runName("restart", at)]);
  });

  it("makes a missed run once, and skips one past startingDeadlineSeconds with a Warning", async () => {
    const { clock, ns } = await boot();
    applyYaml(
      schedule(ns, "late", snapshotTemplate()),
      schedule(ns, "strict", { ...snapshotTemplate(), startingDeadlineSeconds: 600 }),
    );
    await waitForCondition("copyschedule", ns, "late", "Ready");
    await waitForCondition("copyschedule", ns, "strict", "Ready");
    // The operator was away for three nights and comes back an hour after the third run's time.
    const firstMissed = nextRun(nightly, clock.now());
    const latest = firstMissed + 2 * 86_400_000;
    clock.jumpTo(latest + 3_600_000);
    await waitForCondition("virtualcopy", ns, runName("late", latest), "Ready");
    expect(made(ns, "virtualcopy", "late").map((o) => o.metadata.name)).toEqual([runName("late", latest)]);
    await eventually(() => {
      const s = get(ns, "strict");
      expect(s?.status?.lastScheduleTime).toBe(iso(latest));
      const missed = eventsFor(ns, "strict").find((e) => e.reason === "MissedSchedule");
      expect(missed).toMatchObject({ type: "Warning" });
      expect(missed?.note).toContain(`Skipped the run due at ${iso(latest)}: 3600 s late`);
      expect(missed?.note).toContain("(3 runs missed)");
    });
    expect(made(ns, "virtualcopy", "strict")).toEqual([]);
    expect(conditionOf(get(ns, "strict"), "Ready")).toMatchObject({ status: "True", reason: "Scheduled" });
  });

  it("under Forbid, waits for a job still running, then makes the run that was due", async () => {
    const { clock, ns, engine } = await boot();
    await engine.volumes.createVolume("test-env", 1 << 20);
    applyYaml(
      schedule(ns, "resync", {
        copyJobTemplate: { spec: { copyRef: { kind: "PhysicalCopy", name: "test-copy" }, operation: "Resync" } },
      }),
    );
    await waitForCondition("copyschedule", ns, "resync", "Ready");
    const first = jumpToNextRun(clock);
    const firstJob = runName("resync", first);
    // Its PhysicalCopy does not exist yet: the job waits (Succeeded Unknown), so the run is still going on.
    await eventually(() => {
      expect(conditionOf(getObject<Obj>("copyjob", ns, firstJob), "Succeeded")).toMatchObject({
        status: "Unknown",
        reason: "WaitingForCopy",
      });
    });
    const second = jumpToNextRun(clock);
    await eventually(() => {
      const s = get(ns, "resync");
      expect(conditionOf(s, "Ready")?.message).toContain(
        `the run due at ${iso(second)} waits for ${firstJob} (Forbid)`,
      );
      expect(s?.status?.active).toEqual([firstJob]);
    });
    expect(made(ns, "copyjob", "resync").map((o) => o.metadata.name)).toEqual([firstJob]);
    // The copy appears: the first job resyncs it, and the run it held back is made.
    applyYaml({
      apiVersion: api,
      kind: "PhysicalCopy",
      metadata: { name: "test-copy", namespace: ns },
      spec: {
        copyClassName: cls,
        source: { volumeName: "data" },
        target: { volumeName: "test-env" },
        saveSnapshot: true,
      },
    });
    await waitForCondition("copyjob", ns, firstJob, "Succeeded");
    const secondJob = runName("resync", second);
    await waitForCondition("copyjob", ns, secondJob, "Succeeded");
    await eventually(() => {
      expect(get(ns, "resync")?.status).toMatchObject({
        lastScheduleTime: iso(second),
        lastRun: { name: secondJob, result: "Succeeded" },
      });
    });
    expect(
      made(ns, "copyjob", "resync")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual([firstJob, secondJob]);
  });

  it("under Replace, terminates a job still running and makes the run that was due at once", async () => {
    const { clock, ns, engine } = await boot();
    await engine.volumes.createVolume("test-env", 1 << 20);
    applyYaml(
      schedule(ns, "resync", {
        concurrencyPolicy: "Replace",
        copyJobTemplate: { spec: { copyRef: { kind: "PhysicalCopy", name: "test-copy" }, operation: "Resync" } },
      }),
    );
    await waitForCondition("copyschedule", ns, "resync", "Ready");
    const first = jumpToNextRun(clock);
    const firstJob = runName("resync", first);
    // Its PhysicalCopy does not exist yet: the job waits, so it is still running when the next run is due.
    await eventually(() => {
      expect(conditionOf(getObject<Obj>("copyjob", ns, firstJob), "Succeeded")).toMatchObject({
        status: "Unknown",
        reason: "WaitingForCopy",
      });
    });
    const second = jumpToNextRun(clock);
    const secondJob = runName("resync", second);
    // The running job is terminated (deleting it would not stop an array task), the new run made beside it.
    await eventually(() => {
      const j = getObject<Obj & { spec?: { requestedState?: string } }>("copyjob", ns, firstJob);
      expect(j?.spec?.requestedState).toBe("Terminate");
      expect(conditionOf(j, "Succeeded")?.status).toBe("False");
      expect(getObject<Obj>("copyjob", ns, secondJob)).toBeDefined();
      expect(eventsFor(ns, "resync").map((e) => e.reason)).toContain("Replaced");
    });
    expect(
      made(ns, "copyjob", "resync")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual([firstJob, secondJob].sort());
    // The copy appears: the new run resyncs it; the terminated one stays terminated.
    applyYaml({
      apiVersion: api,
      kind: "PhysicalCopy",
      metadata: { name: "test-copy", namespace: ns },
      spec: {
        copyClassName: cls,
        source: { volumeName: "data" },
        target: { volumeName: "test-env" },
        saveSnapshot: true,
      },
    });
    await waitForCondition("copyjob", ns, secondJob, "Succeeded");
    expect(conditionOf(getObject<Obj>("copyjob", ns, firstJob), "Succeeded")?.status).toBe("False");
    await eventually(() => {
      expect(get(ns, "resync")?.status).toMatchObject({
        lastScheduleTime: iso(second),
        lastRun: { name: secondJob, result: "Succeeded" },
      });
    });
  });

  it("keeps the older good copies when the newest runs fail: only Ready copies count", async () => {
    const { clock, ns } = await boot();
    applyYaml(schedule(ns, "gfs", { ...snapshotTemplate(), retention: { keepLast: 2 } }));
    await waitForCondition("copyschedule", ns, "gfs", "Ready");
    const good: string[] = [];
    let lastGood = 0;
    for (let i = 0; i < 3; i++) {
      lastGood = jumpToNextRun(clock);
      good.push(runName("gfs", lastGood));
      await waitForCondition("virtualcopy", ns, good.at(-1) ?? "", "Ready");
    }
    // Three good copies and keepLast 2: the oldest goes.
    await eventually(() => {
      expect(
        made(ns, "virtualcopy", "gfs")
          .map((o) => o.metadata.name)
          .sort(),
      ).toEqual(good.slice(1));
    });
    // The source goes missing: the next runs fail (SourceNotFound). The controller must have seen the new template
    // before the clock jumps, or the next run is made from the old one.
    await retemplate(ns, "gfs", { virtualCopyTemplate: { spec: { source: { volumeName: "gone" } } } });
    const broken: string[] = [];
    for (let i = 0; i < 2; i++) {
      broken.push(runName("gfs", jumpToNextRun(clock)));
      await waitForCondition("virtualcopy", ns, broken.at(-1) ?? "", "Stalled");
    }
    await eventually(() => {
      const s = get(ns, "gfs");
      expect(conditionOf(s, "Ready")).toMatchObject({ status: "False", reason: "LastRunFailed" });
      expect(s?.status).toMatchObject({
        kept: [good[2], good[1]],
        counts: { total: 4, ready: 2, failed: 2, running: 0, deleting: 0 },
        lastSuccessfulTime: iso(lastGood),
      });
    });
    expect(
      made(ns, "virtualcopy", "gfs")
        .map((o) => o.metadata.name)
        .sort(),
    ).toEqual([...good.slice(1), ...broken]);
    for (const n of good.slice(1))
      expect(conditionOf(getObject<Obj>("virtualcopy", ns, n), "Ready")?.status).toBe("True");
    expect(eventsFor(ns, "gfs").filter((e) => e.reason === "RunFailed").length).toBeGreaterThanOrEqual(1);
  });

  it("reports a copy the array refuses to delete (retention hours), once, and asks no more", async () => {
    const { clock, ns, engine } = await boot();
    applyYaml(schedule(ns, "locked", { ...snapshotTemplate({ retentionHours: 1 }), retention: { keepLast: 1 } }));
    await waitForCondition("copyschedule", ns, "locked", "Ready");
    const first = runName("locked", jumpToNextRun(clock));
    const firstCopy = await waitForCondition<Obj>("virtualcopy", ns, first, "Ready");
    const second = runName("locked", jumpToNextRun(clock));
    await waitForCondition("virtualcopy", ns, second, "Ready");
    await eventually(() => {
      const s = get(ns, "locked");
      expect(s?.status?.deletionRefused?.map((r) => r.name)).toEqual([first]);
      expect(s?.status?.deletionRefused?.[0]?.message).toContain("retained until");
      expect(s?.status?.kept).toEqual([second]);
    });
    // The copy stays, on the array too, its deletion refused.
    const stuck = getObject<Obj>("virtualcopy", ns, first);
    expect(stuck?.metadata.deletionTimestamp).toBeDefined();
    expect(conditionOf(stuck, "Ready")?.reason).toBe("DeletionRefused");
    expect(await engine.observeCopy(String(firstCopy.status?.arrayName))).toBeDefined();
    // Another run comes and is pruned in turn: the refusal of the first is not reported again.
    const third = runName("locked", jumpToNextRun(clock));
    await waitForCondition("virtualcopy", ns, third, "Ready");
    await eventually(() => {
      expect(
        get(ns, "locked")
          ?.status?.deletionRefused?.map((r) => r.name)
          .sort(),
      ).toEqual([first, second]);
    });
    const refusals = eventsFor(ns, "locked").filter((e) => e.reason === "DeletionRefused");
    expect(refusals.map((e) => e.note).sort()).toEqual([
      expect.stringContaining(`to delete ${first}`),
      expect.stringContaining(`to delete ${second}`),
    ]);
    for (const e of refusals) expect((e as { series?: unknown }).series).toBeUndefined();
  });

  it("deletes what it made when deleted, the copies' deletionPolicy deciding the array side", async () => {
    const { clock, ns, engine } = await boot();
    applyYaml(
      schedule(ns, "drop", snapshotTemplate({ deletionPolicy: "Delete" })),
      schedule(ns, "keep", snapshotTemplate({ deletionPolicy: "Retain" })),
    );
    await waitForCondition("copyschedule", ns, "drop", "Ready");
    await waitForCondition("copyschedule", ns, "keep", "Ready");
    const at = jumpToNextRun(clock);
    const dropped = await waitForCondition<Obj>("virtualcopy", ns, runName("drop", at), "Ready");
    const kept = await waitForCondition<Obj>("virtualcopy", ns, runName("keep", at), "Ready");
    expect(getObject<Obj>("copyschedule", ns, "drop")?.metadata).toMatchObject({
      finalizers: ["arraycopy.io/schedule-copies"],
    });
    await kubectlAsyncOk(["delete", "copyschedule", "drop", "keep", "-n", ns, "--timeout=60s"]);
    expect(made(ns, "virtualcopy", "drop")).toEqual([]);
    expect(made(ns, "virtualcopy", "keep")).toEqual([]);
    expect(await engine.observeCopy(String(dropped.status?.arrayName))).toBeUndefined();
    expect(await engine.observeCopy(String(kept.status?.arrayName))).toBeDefined();
  });

  it("makes an owned group each run; retention counts only Ready groups; a pruned one takes its copies", async () => {
    const { clock, ns, engine } = await boot();
    await engine.volumes.createVolume("wal", 1 << 20);
    const groupTemplate = (volumes: string[]) => ({
      virtualCopyGroupTemplate: {
        metadata: { labels: { app: "db" } },
        spec: { copyClassName: cls, members: { volumes }, deletionPolicy: "Delete" },
      },
    });
    applyYaml(schedule(ns, "grp", { ...groupTemplate(["data", "wal"]), retention: { keepLast: 1 } }));
    await waitForCondition("copyschedule", ns, "grp", "Ready");
    const first = runName("grp", jumpToNextRun(clock));
    const group = await waitForCondition<Obj & { metadata: { uid: string } }>("virtualcopygroup", ns, first, "Ready");
    expect(group.metadata.labels).toMatchObject({ app: "db", "arraycopy.io/schedule": "grp" });
    expect(group.status).toMatchObject({ memberCount: 2, readyMembers: 2 });
    const prefix = String(group.status?.namePrefix);
    const ofFirst = async () => (await engine.listCopies()).filter((c) => c.name.startsWith(prefix));
    expect((await ofFirst()).map((c) => c.source)).toEqual(["data", "wal"]);
    await eventually(() => {
      expect(get(ns, "grp")?.status).toMatchObject({ kept: [first], lastRun: { name: first, result: "Succeeded" } });
    });
    // A run whose group cannot be made (a member volume is gone) fails: it does not count, the good one stays.
    await retemplate(ns, "grp", { virtualCopyGroupTemplate: { spec: { members: { volumes: ["data", "gone"] } } } });
    const failed = runName("grp", jumpToNextRun(clock));
    await waitForCondition("virtualcopygroup", ns, failed, "Stalled");
    await eventually(() => {
      const s = get(ns, "grp");
      expect(conditionOf(s, "Ready")).toMatchObject({ status: "False", reason: "LastRunFailed" });
      expect(s?.status).toMatchObject({ kept: [first], counts: { total: 2, ready: 1, failed: 1, running: 0 } });
    });
    expect(await ofFirst()).toHaveLength(2);
    // A good run again: keepLast 1 prunes the first group, and its member copies go from the array with it; the
    // failed one, older than the kept one, is deleted too (it may wait out its create's uncertainty window).
    await retemplate(ns, "grp", { virtualCopyGroupTemplate: { spec: { members: { volumes: ["wal"] } } } });
    const third = runName("grp", jumpToNextRun(clock));
    await waitForCondition("virtualcopygroup", ns, third, "Ready");
    await eventually(async () => {
      const live = made(ns, "virtualcopygroup", "grp").filter((o) => o.metadata.deletionTimestamp === undefined);
      expect(live.map((o) => o.metadata.name)).toEqual([third]);
      expect(await ofFirst()).toEqual([]);
      expect(get(ns, "grp")?.status?.kept).toEqual([third]);
    });
    expect(
      eventsFor(ns, "grp")
        .filter((e) => e.reason === "Pruned")
        .map((e) => e.note),
    ).toEqual(expect.arrayContaining([`Deleted VirtualCopyGroup ${first} (retention)`]));
  });
});
