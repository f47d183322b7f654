// What the CopyJob reconcilers share, for a job on one copy (reconciler.ts) and on a group (group.ts): their
// dependencies, finding a task (recorded, or adopted after a lost start), the deletion of a finished job after its
// TTL, and publishing a report with its events both on the job and, prefixed Job, on the copy or group it acts on.
import type { Logger } from "pino";
import { EngineError } from "../../engine/errors.ts";
import type { Engine, JobObservation, OwnerTag } from "../../engine/port.ts";
import { metaTime } from "../../kube/conditions.ts";
import type { Result } from "../../kube/controller.ts";
import { isNotFound } from "../../kube/errors.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import type { StatusWriter } from "../../kube/status.ts";
import type { ControllerContext } from "../shared/context.ts";
import { addFinalizerAndIntentPatch } from "../shared/meta.ts";
import { startIntentAnnotation, startRequested, type CopyJobObject, type Meta } from "../shared/objects.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { adoptable } from "./decide.ts";
import type { JobReport } from "./status.ts";

export interface CopyJobDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  /** Sends a JSON patch to the CopyJob (metadata only: the start intent). */
  readonly patch: (job: CopyJobObject, ops: readonly JsonPatchOp[]) => Promise<void>;
  readonly deleteJob: (job: CopyJobObject) => Promise<void>;
}

/**
 * A task by its recorded id (one the array no longer knows is an error), or the copy's task an interrupted start
 * left behind (`adoptable`: of our operation, submitted since the job's start intent).
 */
export async function taskOf(
  engine: Engine,
  job: CopyJobObject,
  recordedId: string | undefined,
  candidateId: string | undefined,
  signal: AbortSignal,
): Promise<JobObservation | undefined> {
  if (recordedId !== undefined) {
    const task = await engine.observeJob(recordedId, { signal });
    if (task !== undefined) return task;
    throw new EngineError(`array task ${recordedId} is no longer known to the array`, {
      code: "NotFound",
      kind: "final",
    });
  }
  if (candidateId === undefined) return undefined;
  const candidate = await engine.observeJob(candidateId, { signal });
  return adoptable(job, candidate) ? candidate : undefined;
}

/** Halts a task; the task as it ends (observed again when the halt answered nothing). */
export async function haltTask(
  engine: Engine,
  id: string,
  owner: OwnerTag,
  signal: AbortSignal,
): Promise<JobObservation | undefined> {
  return (await engine.halt({ job: id, owner }, { signal })) ?? (await engine.observeJob(id, { signal }));
}

/** Records the start intent on the job, once, before its (first) task is started. */
export async function recordStartIntent(deps: CopyJobDeps, job: CopyJobObject, now: number): Promise<void> {
  if (startRequested(job)) return;
  const intent = { annotation: startIntentAnnotation, at: metaTime(new Date(now)) };
  await deps.patch(job, addFinalizerAndIntentPatch(job.metadata, false, intent));
}

export async function expireJob(deps: CopyJobDeps, job: CopyJobObject, log: Logger): Promise<{ expired: true }> {
  await deps.deleteJob(job).catch((e: unknown) => {
    if (!isNotFound(e)) throw e;
  });
  log.info("Deleted finished job after its TTL");
  return { expired: true };
}

/** The copy (or group) a job acts on, for its events. */
export interface ActedOn {
  readonly kind: CopyJobObject["spec"]["copyRef"]["kind"];
  readonly meta: Meta;
}

export async function publishJobReport(
  deps: CopyJobDeps,
  job: CopyJobObject,
  copy: ActedOn | undefined,
  rep: JobReport,
): Promise<Result> {
  const jobRef = objectRef("CopyJob", job.metadata);
  const copyRef = copy === undefined ? undefined : objectRef(copy.kind, copy.meta);
  const action = job.spec.operation;
  // Every job event also goes, prefixed Job, onto the copy it acts on.
  const events = rep.events.flatMap((ev) => [
    { ...ev, regarding: jobRef, action },
    ...(copyRef === undefined
      ? []
      : [{ ...ev, reason: `Job${ev.reason}`, regarding: copyRef, related: jobRef, action }]),
  ]);
  const p = { write: true, stopIfGone: true, fields: rep.fields, conditions: rep.conditions, events, next: rep.next };
  return (await publish({ status: deps.status, events: deps.ctx.events, now: deps.ctx.clock.now() }, job, p)).result;
}
