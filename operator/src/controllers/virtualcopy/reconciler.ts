// VirtualCopy reconciler (the shell around decide.ts and status.ts): gather → decide → act → report.
//
// Owns: the array's virtual copy named vc-<uid> (owner tag namespace/name/uid), the finalizer
// arraycopy.io/array-object, the annotation arraycopy.io/create-requested-at, and the status of VirtualCopy
// (field manager arraycopy-virtualcopy): CIM fields, Ready / Reconciling / Stalled.
//
// Invariants: gather reads only (the cache, PVC/PV, engine observe); act makes at most one engine call, after the
// finalizer and intent are stored; status is written whole by server-side apply and skipped when unchanged;
// events fire on transitions only; what comes next is the Result that status.ts chose (a thrown error is a failed
// write to the apiserver, retried with the controller's backoff).
import type { Logger } from "pino";
import { EngineError, withContext } from "../../engine/errors.ts";
import type { Engine } from "../../engine/port.ts";
import type { Reconcile, Result } from "../../kube/controller.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { connect } from "../shared/connect.ts";
import { ownerTag, ownObservation } from "../shared/naming.ts";
import type { ControllerContext } from "../shared/context.ts";
import { prepareCreate, releaseFinalizer } from "../shared/meta.ts";
import type { VirtualCopyObject } from "../shared/objects.ts";
import { publishCopyReport } from "../shared/publish.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import { arraySide } from "../shared/sources.ts";
import { arrayNameOf, decide, releases, wasCreated, type Gathered, type Plan } from "./decide.ts";
import { report, type Outcome, type Report } from "./status.ts";

export interface VirtualCopyDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  /** Sends a JSON patch to the VirtualCopy (metadata only). */
  readonly patch: (vc: VirtualCopyObject, ops: readonly JsonPatchOp[]) => Promise<void>;
}

export function virtualCopyReconciler(deps: VirtualCopyDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.virtualCopies.get(key),
    gather: (vc, signal) => gather(deps.ctx, vc, signal),
    decide,
    act: (g, plan, engine, signal, log) => act(deps, g.vc, plan, engine, g.now, signal, log),
    publish: (g, plan, outcome, log) => publishReport(deps, g.vc, report(g, plan, outcome), log),
  });
}

async function gather(
  ctx: ControllerContext,
  vc: VirtualCopyObject,
  signal: AbortSignal,
): Promise<Gathering<Gathered>> {
  const now = ctx.clock.now();
  const { link, engine } = await connect(
    ctx,
    { requested: vc.spec.copyClassName, recorded: vc.status?.copyClassName },
    async (e) => ownObservation(await e.observeCopy(arrayNameOf(vc), { signal }), vc.metadata.uid),
    "virtual copy",
  );
  const needSource = link.ok && !isDeleting(vc.metadata) && link.observed === undefined && !wasCreated(vc);
  const source =
    needSource && engine !== undefined
      ? await ctx.volumes.resolve(vc.metadata.namespace ?? "", vc.spec.source, arraySide(link.cls, engine, signal))
      : undefined;
  return { g: { vc, now, link, source }, engine };
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
  await prepareCreate(deps.patch, vc, plan, now);
  let outcome: Outcome = {};
  if ((plan.kind === "create" || plan.kind === "delete") && engine !== undefined) {
    try {
      if (plan.kind === "create") {
        outcome = { created: await engine.createVirtualCopy(plan.request, { signal }) };
        log.info({ arrayName: plan.request.name }, "Created virtual copy on array");
      } else {
        await engine.deleteCopy({ name: plan.copy.name, owner: ownerTag(vc.metadata) }, { signal });
        outcome = { deleted: true };
        log.info({ arrayName: plan.copy.name }, "Deleted virtual copy from array");
      }
    } catch (e: unknown) {
      const error = e instanceof EngineError ? e : withContext(`cannot ${plan.kind} virtual copy`, e);
      outcome = { error };
      log.warn({ err: error.message, code: error.code, kind: error.kind }, "Engine call failed");
    }
  }
  if (releases(plan) && outcome.error === undefined) await releaseFinalizer(deps.patch, vc);
  return outcome;
}

async function publishReport(deps: VirtualCopyDeps, vc: VirtualCopyObject, rep: Report, log: Logger): Promise<Result> {
  const { result, published } = await publishCopyReport(
    { status: deps.status, events: deps.ctx.events, now: deps.ctx.clock.now() },
    "VirtualCopy",
    vc,
    rep,
  );
  if (published.written) log.debug({ reason: rep.reason }, "Wrote status");
  return result;
}
