// CopyJob reconciler: gather → decide → act → report for one array task on a copy.
//
// Owns: the array task the job starts (recorded in status.arrayJobId), the CopyJob's status (field manager
// arraycopy-copyjob: CIM job fields, Succeeded / Reconciling / Stalled), the job's deletion after its TTL, and
// the Started / Succeeded / Failed / Terminated events on the job and on the copy it acts on.
//
// Invariants: the start intent (the annotation arraycopy.io/start-requested-at) is on the job before the task is
// started, so a crash or a timeout never starts two (decide.ts adopts); status is written once per reconcile,
// after the engine call; a finished job is never rewritten; at most one engine call.
import type { Logger } from "pino";
import { EngineError, withContext } from "../../engine/errors.ts";
import type { Engine, JobObservation } from "../../engine/port.ts";
import { metaTime } from "../../kube/conditions.ts";
import { after, done, type Reconcile, type Result } from "../../kube/controller.ts";
import { isNotFound } from "../../kube/errors.ts";
import type { StatusWriter } from "../../kube/status.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import { connect } from "../shared/connect.ts";
import { addFinalizerAndIntentPatch } from "../shared/meta.ts";
import { ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import {
  jobFinished,
  startIntentAnnotation,
  startRequested,
  type CopyJobObject,
  type PhysicalCopyObject,
  type VirtualCopyObject,
} from "../shared/objects.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import { adoptable, copyArrayName, decideJob, type JobArrayView, type JobGathered, type JobPlan } from "./decide.ts";
import { jobReport, type JobOutcome, type JobReport } from "./status.ts";

export interface CopyJobDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  /** Sends a JSON patch to the CopyJob (metadata only: the start intent). */
  readonly patch: (job: CopyJobObject, ops: readonly JsonPatchOp[]) => Promise<void>;
  readonly deleteJob: (job: CopyJobObject) => Promise<void>;
}

export function copyJobReconciler(deps: CopyJobDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.jobs.get(key),
    gather: (job, signal) => gather(deps.ctx, job, signal),
    decide: decideJob,
    act: (g, plan, engine, signal, log) => act(deps, g, plan, engine, signal, log),
    publish: (g, plan, outcome) => {
      // A finished job is never written again: only its TTL counts.
      if (plan.kind === "finished") return Promise.resolve(done);
      if (plan.kind === "expire") return Promise.resolve(outcome.expired === true ? done : after(plan.afterMs));
      return publishReport(deps, g, jobReport(g, plan, outcome));
    },
  });
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
): Promise<Gathering<JobGathered>> {
  const now = ctx.clock.now();
  const copy = copyOf(ctx, job);
  if (jobFinished(job) || copy === undefined) return { g: { job, now, copy, link: undefined }, engine: undefined };
  const { link, engine } = await connect(
    ctx,
    { requested: copy.spec.copyClassName, recorded: copy.status?.copyClassName },
    async (e): Promise<JobArrayView> => {
      const name = copyArrayName(copy);
      const observed =
        name === undefined ? undefined : ownObservation(await e.observeCopy(name, { signal }), copy.metadata.uid);
      return { copy: observed, task: await taskOf(e, job, observed?.activeJob ?? observed?.lastJob, signal) };
    },
    "the copy",
  );
  return { g: { job, now, copy, link }, engine };
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
  if (plan.kind === "expire" && plan.afterMs <= 0) {
    await deps.deleteJob(g.job).catch((e: unknown) => {
      if (!isNotFound(e)) throw e;
    });
    log.info("Deleted finished job after its TTL");
    return { expired: true };
  }
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
    if (!startRequested(g.job)) {
      const intent = { annotation: startIntentAnnotation, at: metaTime(new Date(g.now)) };
      await deps.patch(g.job, addFinalizerAndIntentPatch(g.job.metadata, false, intent));
    }
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
  return (await publish({ status: deps.status, events: deps.ctx.events, now: deps.ctx.clock.now() }, g.job, p)).result;
}
