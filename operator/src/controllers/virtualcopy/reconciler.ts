// VirtualCopy reconciler (the shell around decide.ts and status.ts): gather → decide → act → report.
//
// Owns: the array's virtual copy named vc-<uid> (owner tag namespace/name/uid), the finalizer
// arraycopy.io/array-object, the annotation arraycopy.io/create-requested-at, and the status of VirtualCopy
// (field manager arraycopy-virtualcopy): CIM fields, Ready / Reconciling / Stalled.
//
// Invariants: gather reads only (the cache, PVC/PV, engine observe); act makes at most one engine call, after the
// finalizer and intent are stored; status is written whole by server-side apply and skipped when unchanged;
// events fire on transitions only. A thrown error means rate-limited backoff.
import type { Logger } from "pino";
import { EngineError, withContext, messageOf } from "../../engine/errors.ts";
import type { Engine } from "../../engine/port.ts";
import { metaTime } from "../../kube/conditions.ts";
import { done, type Reconcile, type Result } from "../../kube/controller.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { resolveClass } from "../shared/classes.ts";
import { ownerTag, ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import { addFinalizerAndIntentPatch, removeFinalizerOps } from "../shared/meta.ts";
import type { VirtualCopyObject } from "../shared/objects.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { arrayNameOf, decide, wasCreated, type Gathered, type Plan } from "./decide.ts";
import { report, type Outcome, type Report } from "./status.ts";

export interface VirtualCopyDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  /** Sends a JSON patch to the VirtualCopy (metadata only). */
  readonly patch: (vc: VirtualCopyObject, ops: readonly JsonPatchOp[]) => Promise<void>;
}

export function virtualCopyReconciler(deps: VirtualCopyDeps): Reconcile {
  return async (key, signal) => {
    const vc = deps.ctx.caches.virtualCopies.get(key);
    if (vc === undefined) return done;
    const log = deps.ctx.log.child({ namespace: vc.metadata.namespace, name: vc.metadata.name });
    const { gathered, engine } = await gather(deps.ctx, vc, signal);
    const plan = decide(gathered);
    const outcome = await act(deps, vc, plan, engine, gathered.now, signal, log);
    const rep = report(gathered, plan, outcome);
    return publishReport(deps, vc, rep, log);
  };
}

async function gather(
  ctx: ControllerContext,
  vc: VirtualCopyObject,
  signal: AbortSignal,
): Promise<{ gathered: Gathered; engine: Engine | undefined }> {
  const now = ctx.clock.now();
  const cls = resolveClass(ctx.caches.classes.list(), vc.spec.copyClassName, vc.status?.copyClassName);
  if (!cls.ok) return { gathered: { vc, now, cls }, engine: undefined };
  let engine: Engine;
  try {
    engine = await ctx.engines.engineFor(cls.cls);
  } catch (e: unknown) {
    return { gathered: { vc, now, cls, engineError: messageOf(e) }, engine: undefined };
  }
  let observed;
  try {
    observed = ownObservation(await engine.observeCopy(arrayNameOf(vc), { signal }), vc.metadata.uid);
  } catch (e: unknown) {
    return { gathered: { vc, now, cls, observeError: withContext("cannot observe virtual copy", e) }, engine };
  }
  const needSource = !isDeleting(vc.metadata) && observed === undefined && !wasCreated(vc);
  const source = needSource
    ? await ctx.volumes.resolve(vc.metadata.namespace ?? "", vc.spec.source, cls.cls.spec.csiDriver)
    : undefined;
  return { gathered: { vc, now, cls, observed, source }, engine };
}

async function act(
  deps: VirtualCopyDeps,
  vc: VirtualCopyObject,
  plan: Plan,
  engine: Engine | undefined,
  now: number,
  signal: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  if (plan.addFinalizer || plan.recordIntent) {
    const ops = addFinalizerAndIntentPatch(
      vc.metadata,
      plan.addFinalizer,
      plan.recordIntent ? metaTime(new Date(now)) : undefined,
    );
    if (ops.length > 0) await deps.patch(vc, ops);
  }
  let outcome: Outcome = {};
  if (plan.engine !== undefined && engine !== undefined) {
    try {
      if (plan.engine.kind === "create") {
        outcome = { created: await engine.createVirtualCopy(plan.engine.request, { signal }) };
        log.info({ arrayName: plan.engine.request.name }, "Created virtual copy on array");
      } else {
        await engine.deleteCopy({ name: plan.engine.name, owner: ownerTag(vc.metadata) }, { signal });
        outcome = { deleted: true };
        log.info({ arrayName: plan.engine.name }, "Deleted virtual copy from array");
      }
    } catch (e: unknown) {
      const error = e instanceof EngineError ? e : withContext(`cannot ${plan.engine.kind} virtual copy`, e);
      outcome = { error };
      log.warn({ err: error.message, code: error.code, kind: error.kind }, "Engine call failed");
    }
  }
  if (plan.removeFinalizer && outcome.error === undefined) {
    const ops = removeFinalizerOps(vc.metadata);
    if (ops.length > 0) await deps.patch(vc, ops);
  }
  return outcome;
}

async function publishReport(deps: VirtualCopyDeps, vc: VirtualCopyObject, rep: Report, log: Logger): Promise<Result> {
  const regarding = objectRef("VirtualCopy", vc.metadata);
  const events = rep.events.map((ev) => ({
    ...ev,
    regarding,
    action: ev.reason === "Deleted" || ev.reason === "DeletionRefused" ? "Delete" : "Create",
  }));
  const { result, published } = await publish({ status: deps.status, events: deps.ctx.events }, vc, { ...rep, events });
  if (published.written) log.debug({ reason: rep.reason }, "Wrote status");
  return result;
}
