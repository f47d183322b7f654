// PhysicalCopy reconciler: gather → decide → act → report.
//
// Owns: the finalizer arraycopy.io/array-object on PhysicalCopies, the owned CopyJob <name>-copy that runs the
// initial copy, the clean-up on deletion (halt, delete the online target, or end the association), and the
// PhysicalCopy's status (field manager arraycopy-physicalcopy): volumes, CIM fields, Ready / Reconciling / Stalled.
import type { Logger } from "pino";
import { apiVersion } from "../../api/common.ts";
import { EngineError, withContext } from "../../engine/errors.ts";
import type { Engine } from "../../engine/port.ts";
import type { Reconcile, Result } from "../../kube/controller.ts";
import { isAlreadyExists } from "../../kube/errors.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { resolveClass, type ResolvedClass } from "../shared/classes.ts";
import { connect } from "../shared/connect.ts";
import { ownerTag, ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import { addFinalizerAndIntentPatch, removeFinalizerOps } from "../shared/meta.ts";
import { jobFinished, type PhysicalCopyObject } from "../shared/objects.ts";
import { arraySide, type ArraySide, type VolumeResolution } from "../shared/sources.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import {
  addsFinalizer,
  decidePc,
  initialJobName,
  isEngineCall,
  releases,
  targetOf,
  wasCreated,
  type CopyVolumes,
  type PcGathered,
  type PcPlan,
} from "./decide.ts";
import { pcReport, type PcOutcome, type PcReport } from "./status.ts";

export interface PhysicalCopyDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  readonly patch: (pc: PhysicalCopyObject, ops: readonly JsonPatchOp[]) => Promise<void>;
  /** Creates a CopyJob object (the initial copy), in the PhysicalCopy's namespace. */
  readonly createJob: (namespace: string, body: Record<string, unknown>) => Promise<void>;
}

export function physicalCopyReconciler(deps: PhysicalCopyDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.physicalCopies.get(key),
    gather: (pc, signal) => gather(deps.ctx, pc, signal),
    decide: decidePc,
    act: (g, plan, engine, signal, log) => act(deps, g, plan, engine, signal, log),
    publish: (g, plan, outcome) => publishReport(deps, g.pc, pcReport(g, plan, outcome)),
  });
}

async function gather(
  ctx: ControllerContext,
  pc: PhysicalCopyObject,
  signal: AbortSignal,
): Promise<Gathering<PcGathered>> {
  const now = ctx.clock.now();
  const ns = pc.metadata.namespace ?? "";
  const jobs = ctx.caches.jobs
    .list(ns)
    .filter((j) => j.spec.copyRef.kind === "PhysicalCopy" && j.spec.copyRef.name === pc.metadata.name);
  const initialJob = jobs.find(
    (j) => j.spec.operation === "Copy" && (j.metadata.ownerReferences ?? []).some((o) => o.uid === pc.metadata.uid),
  );
  const activeJob = jobs.find((j) => j.spec.operation !== "Copy" && !jobFinished(j));
  const choice = { requested: pc.spec.copyClassName, recorded: pc.status?.copyClassName };
  const cls = resolveClass(ctx.caches.classes.list(), choice.requested, choice.recorded);
  const needVolumes = cls.ok && !isDeleting(pc.metadata) && !wasCreated(pc);
  // The class's engine names the handle rule and confirms derived names; one that cannot be built blocks the copy
  // in connect below (ClassUnusable), which is what the status then says.
  const side = needVolumes ? await sideOf(ctx, cls.cls, signal) : undefined;
  const source = side === undefined ? undefined : await ctx.volumes.resolve(ns, pc.spec.source, side);
  const target = side === undefined ? undefined : await resolveTarget(ctx, pc, side);
  const targetName = target?.ok === true ? target.volume : targetOf(pc);
  // Another owner's copy on the same target (two PhysicalCopies onto one volume) is not ours to show or clean up.
  const { link, engine } = await connect(
    ctx,
    choice,
    async (e) =>
      targetName === undefined
        ? undefined
        : ownObservation(await e.observeCopy(targetName, { signal }), pc.metadata.uid),
    "physical copy",
  );
  return { g: { pc, now, link, source, target, initialJob, activeJob }, engine };
}

async function sideOf(ctx: ControllerContext, cls: ResolvedClass, signal: AbortSignal): Promise<ArraySide | undefined> {
  try {
    return arraySide(cls, await ctx.engines.engineFor(cls), signal);
  } catch {
    return undefined;
  }
}

function resolveTarget(
  ctx: ControllerContext,
  pc: PhysicalCopyObject,
  side: ArraySide,
): Promise<VolumeResolution> | VolumeResolution {
  const t = pc.spec.target;
  if (t.create !== undefined) return { ok: true, volume: targetOf(pc) ?? "" };
  return ctx.volumes.resolve(
    pc.metadata.namespace ?? "",
    { persistentVolumeClaimName: t.persistentVolumeClaimName, volumeName: t.volumeName },
    side,
  );
}

async function act(
  deps: PhysicalCopyDeps,
  g: PcGathered,
  plan: PcPlan,
  engine: Engine | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<PcOutcome> {
  const { pc } = g;
  if (addsFinalizer(plan)) await deps.patch(pc, addFinalizerAndIntentPatch(pc.metadata, true, undefined));
  if (plan.kind === "startCopy") {
    await createInitialJob(deps, pc, plan.volumes, log);
    return {};
  }
  let outcome: PcOutcome = {};
  if (isEngineCall(plan) && engine !== undefined) {
    const copy = plan.copy.name;
    try {
      const owner = ownerTag(pc.metadata);
      if (plan.kind === "halt") await engine.halt({ copy, owner }, { signal });
      else if (plan.kind === "delete") await engine.deleteCopy({ name: copy, owner }, { signal });
      else await engine.startJob({ copy, owner, operation: "Detach" }, { signal });
      outcome = { done: plan };
      log.info({ copy, step: plan.kind }, "Cleaned up physical copy on array");
    } catch (e: unknown) {
      const error = e instanceof EngineError ? e : withContext(`cannot ${plan.kind} physical copy`, e);
      outcome = { error };
      log.warn({ err: error.message, code: error.code }, "Engine call failed");
    }
  }
  if (releases(plan) && outcome.error === undefined) {
    const ops = removeFinalizerOps(pc.metadata);
    if (ops.length > 0) await deps.patch(pc, ops);
  }
  return outcome;
}

/** The initial copy's job, told in its spec which volumes to copy (it reads no other controller's status). */
async function createInitialJob(
  deps: PhysicalCopyDeps,
  pc: PhysicalCopyObject,
  volumes: CopyVolumes,
  log: Logger,
): Promise<void> {
  const body = {
    apiVersion,
    kind: "CopyJob",
    metadata: {
      name: initialJobName(pc),
      namespace: pc.metadata.namespace,
      labels: { "arraycopy.io/physical-copy": pc.metadata.name.slice(0, 63) },
      ownerReferences: [
        {
          apiVersion,
          kind: "PhysicalCopy",
          name: pc.metadata.name,
          uid: pc.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: {
      copyRef: { kind: "PhysicalCopy", name: pc.metadata.name },
      operation: "Copy",
      volumes: { source: volumes.source, target: volumes.target },
      ...(pc.spec.priority === undefined ? {} : { priority: pc.spec.priority }),
    },
  };
  try {
    await deps.createJob(pc.metadata.namespace ?? "", body);
    log.info({ job: body.metadata.name }, "Created the initial copy job");
  } catch (e: unknown) {
    if (!isAlreadyExists(e)) throw e;
  }
}

async function publishReport(deps: PhysicalCopyDeps, pc: PhysicalCopyObject, rep: PcReport): Promise<Result> {
  const regarding = objectRef("PhysicalCopy", pc.metadata);
  const action = isDeleting(pc.metadata) ? "Delete" : "Copy";
  const events = rep.events.map((ev) => ({ ...ev, regarding, action }));
  const now = deps.ctx.clock.now();
  return (await publish({ status: deps.status, events: deps.ctx.events, now }, pc, { ...rep, events })).result;
}
