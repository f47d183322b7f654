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
import type { Engine } from "../../engine/port.ts";
import { after, done, type Reconcile } from "../../kube/controller.ts";
import { connect } from "../shared/connect.ts";
import { ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import { jobFinished, type CopyJobObject, type PhysicalCopyObject, type VirtualCopyObject } from "../shared/objects.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import { copyArrayName, decideJob, type JobArrayView, type JobGathered, type JobPlan } from "./decide.ts";
import { groupJobReconciler } from "./group.ts";
import { expireJob, haltTask, publishJobReport, recordStartIntent, taskOf, type CopyJobDeps } from "./shell.ts";
import { jobReport, type JobOutcome } from "./status.ts";

export type { CopyJobDeps } from "./shell.ts";

export function copyJobReconciler(deps: CopyJobDeps): Reconcile {
  const single = singleJobReconciler(deps);
  const group = groupJobReconciler(deps);
  return (key, signal) =>
    deps.ctx.caches.jobs.get(key)?.spec.copyRef.kind === "VirtualCopyGroup" ? group(key, signal) : single(key, signal);
}

function singleJobReconciler(deps: CopyJobDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.jobs.get(key),
    gather: (job, signal) => gather(deps.ctx, job, signal),
    decide: decideJob,
    act: (g, plan, engine, signal, log) => act(deps, g, plan, engine, signal, log),
    publish: (g, plan, outcome) => {
      // A finished job is never written again: only its TTL counts.
      if (plan.kind === "finished") return Promise.resolve(done);
      if (plan.kind === "expire") return Promise.resolve(outcome.expired === true ? done : after(plan.afterMs));
      const copy = g.copy === undefined ? undefined : { kind: g.job.spec.copyRef.kind, meta: g.copy.metadata };
      return publishJobReport(deps, g.job, copy, jobReport(g, plan, outcome));
    },
  });
}

/** The copy a single job acts on (a group job goes through group.ts). */
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
      return {
        copy: observed,
        task: await taskOf(e, job, job.status?.arrayJobId, observed?.activeJob ?? observed?.lastJob, signal),
      };
    },
    "the copy",
  );
  return { g: { job, now, copy, link }, engine };
}

async function act(
  deps: CopyJobDeps,
  g: JobGathered,
  plan: JobPlan,
  engine: Engine | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<JobOutcome> {
  if (plan.kind === "expire" && plan.afterMs <= 0) return expireJob(deps, g.job, log);
  if (engine === undefined) return {};
  if (plan.kind !== "create" && plan.kind !== "start" && plan.kind !== "halt") return {};
  try {
    if (plan.kind === "halt") {
      const task = await haltTask(engine, plan.id, plan.owner, signal);
      log.info({ task: plan.id }, "Halted array task");
      return { task };
    }
    await recordStartIntent(deps, g.job, g.now);
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
