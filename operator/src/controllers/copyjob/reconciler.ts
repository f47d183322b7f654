// CopyJob reconciler: gather → decide → act → report for one array task on a copy.
//
// Owns: the array task the job starts (recorded in status.arrayJobId), the CopyJob's status (field manager
// arraycopy-copyjob: CIM job fields, Succeeded / Reconciling / Stalled), the job's deletion after its TTL, and
// the Started / Succeeded / Failed / Terminated events on the job and on the copy it acts on.
//
// Invariants: the intent (jobState Starting, timeSubmitted) is written before the task is started, so a crash
// or a timeout never starts two (decide.ts adopts); a finished job is never rewritten; at most one engine call.
import type { Logger } from "pino";
import { EngineError, withContext, messageOf } from "../../engine/errors.ts";
import type { Engine, JobObservation } from "../../engine/port.ts";
import { metaTime } from "../../kube/conditions.ts";
import { after, done, type Reconcile, type Result } from "../../kube/controller.ts";
import { isNotFound } from "../../kube/errors.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { resolveClass } from "../shared/classes.ts";
import { ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import { jobFinished, type CopyJobObject, type PhysicalCopyObject, type VirtualCopyObject } from "../shared/objects.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { adoptable, copyArrayName, decideJob, type JobGathered, type JobPlan } from "./decide.ts";
import { jobReport, type JobOutcome, type JobReport } from "./status.ts";

export interface CopyJobDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  readonly deleteJob: (job: CopyJobObject) => Promise<void>;
}

export function copyJobReconciler(deps: CopyJobDeps): Reconcile {
  return async (key, signal) => {
    const job = deps.ctx.caches.jobs.get(key);
    if (job === undefined) return done;
    const log = deps.ctx.log.child({ namespace: job.metadata.namespace, name: job.metadata.name });
    const { g, engine } = await gather(deps.ctx, job, signal);
    const plan = decideJob(g);
    if (plan.kind === "finished") return done;
    if (plan.kind === "expire") {
      if (plan.afterMs > 0) return after(plan.afterMs);
      await deps.deleteJob(job).catch((e: unknown) => {
        if (!isNotFound(e)) throw e;
      });
      log.info("Deleted finished job after its TTL");
      return done;
    }
    const outcome = await act(deps, g, plan, engine, signal, log);
    return publishReport(deps, g, jobReport(g, plan, outcome));
  };
}

function copyOf(ctx: ControllerContext, job: CopyJobObject): VirtualCopyObject | PhysicalCopyObject | undefined {
  const ns = job.metadata.namespace;
  return job.spec.copyRef.kind === "VirtualCopy"
    ? ctx.caches.virtualCopies.getByName(ns, job.spec.copyRef.name)
    : ctx.caches.physicalCopies.getByName(ns, job.spec.copyRef.name);
}

async function gather(
  ctx: ControllerContext,
  job: CopyJobObject,
  signal: AbortSignal,
): Promise<{ g: JobGathered; engine: Engine | undefined }> {
  const now = ctx.clock.now();
  const copy = copyOf(ctx, job);
  if (jobFinished(job) || copy === undefined) return { g: { job, now, copy, cls: undefined }, engine: undefined };
  const cls = resolveClass(ctx.caches.classes.list(), copy.spec.copyClassName, copy.status?.copyClassName);
  if (!cls.ok) return { g: { job, now, copy, cls }, engine: undefined };
  let engine: Engine;
  try {
    engine = await ctx.engines.engineFor(cls.cls);
  } catch (e: unknown) {
    return { g: { job, now, copy, cls, engineError: messageOf(e) }, engine: undefined };
  }
  try {
    const name = copyArrayName(copy);
    const observedCopy =
      name === undefined ? undefined : ownObservation(await engine.observeCopy(name, { signal }), copy.metadata.uid);
    const observedJob = await taskOf(engine, job, observedCopy?.activeJob ?? observedCopy?.lastJob, signal);
    return { g: { job, now, copy, cls, observedCopy, observedJob }, engine };
  } catch (e: unknown) {
    return { g: { job, now, copy, cls, observeError: withContext("cannot observe the copy", e) }, engine };
  }
}

/** The task by its recorded id, or the one an interrupted start left behind (adoption). */
async function taskOf(
  engine: Engine,
  job: CopyJobObject,
  candidateId: string | undefined,
  signal: AbortSignal,
): Promise<JobObservation | undefined> {
  const recorded = job.status?.arrayJobId;
  if (recorded !== undefined) {
    const task = await engine.observeJob(recorded, { signal });
    if (task !== undefined) return task;
    throw new EngineError(`array task ${recorded} is no longer known to the array`, {
      code: "NotFound",
      kind: "final",
    });
  }
  if (candidateId === undefined) return undefined;
  const candidate = await engine.observeJob(candidateId, { signal });
  return adoptable(job, candidate) ? candidate : undefined;
}

async function act(
  deps: CopyJobDeps,
  g: JobGathered,
  plan: JobPlan,
  engine: Engine | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<JobOutcome> {
  if (engine === undefined) return {};
  if (plan.kind !== "create" && plan.kind !== "start" && plan.kind !== "halt") return {};
  try {
    if (plan.kind === "halt") {
      const task =
        (await engine.halt({ job: plan.id, owner: plan.owner }, { signal })) ??
        (await engine.observeJob(plan.id, { signal }));
      log.info({ task: plan.id }, "Halted array task");
      return { task };
    }
    if (g.job.status?.jobState !== "Starting") await writeIntent(deps, g);
    const task =
      plan.kind === "create"
        ? (await engine.createPhysicalCopy(plan.request, { signal })).job
        : await engine.startJob(plan.request, { signal });
    log.info({ task: task.id, operation: g.job.spec.operation }, "Started array task");
    return { task };
  } catch (e: unknown) {
    const error = e instanceof EngineError ? e : withContext(`cannot run ${g.job.spec.operation}`, e);
    log.warn({ err: error.message, code: error.code, kind: error.kind }, "Engine call failed");
    return { error };
  }
}

async function writeIntent(deps: CopyJobDeps, g: JobGathered): Promise<void> {
  const gen = g.job.metadata.generation ?? 0;
  const message = `submitting ${g.job.spec.operation} to the array`;
  await deps.status.write(g.job, {
    fields: {
      observedGeneration: gen,
      jobState: "Starting",
      percentComplete: 0,
      timeSubmitted: metaTime(new Date(g.now)),
    },
    conditions: ["Succeeded", "Reconciling", "Stalled"].map((type) => ({
      type,
      status: type === "Succeeded" ? "Unknown" : type === "Reconciling" ? "True" : "False",
      reason: "Starting",
      message,
      observedGeneration: gen,
    })),
  });
}

async function publishReport(deps: CopyJobDeps, g: JobGathered, rep: JobReport): Promise<Result> {
  const jobRef = objectRef("CopyJob", g.job.metadata);
  const copyRef = g.copy === undefined ? undefined : objectRef(g.job.spec.copyRef.kind, g.copy.metadata);
  const action = g.job.spec.operation;
  // Every job event also goes, prefixed Job, onto the copy it acts on.
  const events = rep.events.flatMap((ev) => [
    { ...ev, regarding: jobRef, action },
    ...(copyRef === undefined
      ? []
      : [{ ...ev, reason: `Job${ev.reason}`, regarding: copyRef, related: jobRef, action }]),
  ]);
  const p = { write: true, stopIfGone: true, fields: rep.fields, conditions: rep.conditions, events, next: rep.next };
  return (await publish({ status: deps.status, events: deps.ctx.events }, g.job, p)).result;
}
