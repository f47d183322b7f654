// VirtualCopyGroup reconciler (the shell around decide.ts and status.ts): gather → decide → act → report.
//
// Owns: the array's member copies named vg-<22 hex of the uid>-<index> (owner tag namespace/name/uid), the
// finalizer arraycopy.io/array-object, the annotation arraycopy.io/create-requested-at, and the status of
// VirtualCopyGroup (field manager arraycopy-virtualcopygroup): members, Ready / Reconciling / Stalled.
//
// Invariants: gather reads only (the cache, PVCs and PVs, the engine's copies and volume sets); act makes one
// engine call to create (every member at once), or deletes the group's own member copies one by one (a group has
// many array objects: the one bend of "one engine call per pass", each call checked against the owner tag), after
// the finalizer and intent are stored; status is written whole by server-side apply, skipped when unchanged.
import type { Logger } from "pino";
import { EngineError, withContext } from "../../engine/errors.ts";
import type { CopyObservation, Engine } from "../../engine/port.ts";
import { sameOwner } from "../../engine/ownership.ts";
import { maxMembers } from "../../api/virtualcopygroup.ts";
import type { Reconcile, Result } from "../../kube/controller.ts";
import type { JsonPatchOp } from "../../kube/finalizers.ts";
import { isDeleting } from "../../kube/finalizers.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { connect } from "../shared/connect.ts";
import type { ControllerContext } from "../shared/context.ts";
import { prepareCreate, releaseFinalizer } from "../shared/meta.ts";
import { ownerTag } from "../shared/naming.ts";
import { jobFinished, type VirtualCopyGroupObject } from "../shared/objects.ts";
import { findCondition } from "../../kube/conditions.ts";
import { publishCopyReport } from "../shared/publish.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import { arraySide, type ArraySide } from "../shared/sources.ts";
import {
  decide,
  failedForGood,
  namePrefixOf,
  releases,
  wasCreated,
  type Gathered,
  type Member,
  type MemberResolution,
  type Plan,
} from "./decide.ts";
import { report, type Outcome, type Report } from "./status.ts";

export interface VirtualCopyGroupDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  readonly patch: (group: VirtualCopyGroupObject, ops: readonly JsonPatchOp[]) => Promise<void>;
}

export function virtualCopyGroupReconciler(deps: VirtualCopyGroupDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.groups.get(key),
    gather: (group, signal) => gather(deps.ctx, group, signal),
    decide,
    act: (g, plan, engine, signal, log) => act(deps, g.group, plan, engine, g.now, signal, log),
    publish: (g, plan, outcome, log) => publishReport(deps, g.group, report(g, plan, outcome), log),
  });
}

/** The array's copies named with the group's prefix, whoever owns them (decide keeps only its own), by index. */
async function prefixed(engine: Engine, prefix: string, signal: AbortSignal): Promise<CopyObservation[]> {
  const all = await engine.listCopies({ signal });
  const index = (c: CopyObservation) => Number(c.name.slice(prefix.length));
  return all
    .filter((c) => c.kind === "Virtual" && c.name.startsWith(prefix) && /^\d+$/.test(c.name.slice(prefix.length)))
    .sort((a, b) => index(a) - index(b));
}

async function gather(
  ctx: ControllerContext,
  group: VirtualCopyGroupObject,
  signal: AbortSignal,
): Promise<Gathering<Gathered>> {
  const now = ctx.clock.now();
  const { link, engine } = await connect(
    ctx,
    { requested: group.spec.copyClassName, recorded: group.status?.copyClassName },
    (e) => prefixed(e, namePrefixOf(group), signal),
    "group virtual copy",
  );
  const restoreFailed = failedRestore(ctx, group);
  const toMake = link.ok && !isDeleting(group.metadata) && !wasCreated(group) && !failedForGood(group);
  if (!toMake || engine === undefined || !link.capabilities.groupVirtualCopies)
    return { g: { group, now, link, restoreFailed }, engine };
  try {
    const members = await resolveMembers(ctx, group, engine, arraySide(link.cls, engine, signal), signal);
    return { g: { group, now, link, members }, engine };
  } catch (e: unknown) {
    // Reading a volume set is an array call: when it fails the group is blocked as any observation is.
    if (!(e instanceof EngineError)) throw e;
    const error = withContext("cannot observe volume set", e);
    const blocked = { reason: "ArrayUnavailable", message: error.message, cls: link.cls, error } as const;
    return { g: { group, now, link: { ok: false, blocked } }, engine };
  }
}

/** The group's newest finished Restore job (a CopyJob on it), when it failed: a group restored only in part. */
function failedRestore(ctx: ControllerContext, group: VirtualCopyGroupObject): Gathered["restoreFailed"] {
  const ns = group.metadata.namespace ?? "";
  const finished = ctx.caches.jobs
    .list(ns)
    .filter((j) => j.spec.copyRef.kind === "VirtualCopyGroup" && j.spec.copyRef.name === group.metadata.name)
    .filter((j) => jobFinished(j))
    .sort((a, b) => Date.parse(b.metadata.creationTimestamp ?? "") - Date.parse(a.metadata.creationTimestamp ?? ""));
  const newest = finished[0];
  const cond = findCondition(newest?.status?.conditions, "Succeeded");
  if (newest === undefined || cond?.status !== "False" || cond.reason !== "Failed") return undefined;
  return { job: newest.metadata.name, message: cond.message };
}

/** The members' array volumes: claims resolved as a VirtualCopy's source is, a set read from the array. */
async function resolveMembers(
  ctx: ControllerContext,
  group: VirtualCopyGroupObject,
  engine: Engine,
  side: ArraySide,
  signal: AbortSignal,
): Promise<MemberResolution> {
  const ns = group.metadata.namespace ?? "";
  const spec = group.spec.members;
  if (spec.volumes !== undefined) return { ok: true, members: spec.volumes.map((volume) => ({ volume })) };
  if (spec.volumeSet !== undefined) {
    const set = await engine.observeVolumeSet(spec.volumeSet, { signal });
    if (set === undefined)
      return { ok: false, reason: "SourceNotFound", message: `volume set ${spec.volumeSet} not found on the array` };
    if (set.members.length === 0)
      return { ok: false, reason: "InvalidMembers", message: `volume set ${spec.volumeSet} has no members` };
    return { ok: true, members: set.members.map((volume) => ({ volume })), volumeSet: set.name };
  }
  let claims = spec.pvcs;
  if (claims === undefined) {
    claims = await ctx.volumes.claimsMatching(ns, spec.selector ?? {});
    if (claims.length === 0)
      return { ok: false, reason: "SourceNotFound", message: `no PersistentVolumeClaim in ${ns} matches the selector` };
    if (claims.length > maxMembers)
      return {
        ok: false,
        reason: "InvalidMembers",
        message: `the selector matches ${claims.length} claims; a group takes at most ${maxMembers}`,
      };
  }
  const members: Member[] = [];
  for (const claim of claims) {
    const r = await ctx.volumes.resolve(ns, { persistentVolumeClaimName: claim }, side);
    if (!r.ok) return r;
    const twice = members.find((m) => m.volume === r.volume);
    if (twice !== undefined)
      return {
        ok: false,
        reason: "InvalidMembers",
        message: `claims ${twice.claim ?? ""} and ${claim} are the same array volume ${r.volume}`,
      };
    members.push({ volume: r.volume, claim });
  }
  return { ok: true, members };
}

async function act(
  deps: VirtualCopyGroupDeps,
  group: VirtualCopyGroupObject,
  plan: Plan,
  engine: Engine | undefined,
  now: number,
  signal: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  await prepareCreate(deps.patch, group, plan, now);
  let outcome: Outcome = {};
  if (engine !== undefined) {
    if (plan.kind === "create") outcome = await create(engine, plan, signal, log);
    else if (plan.kind === "delete" || plan.kind === "cleanup")
      outcome = await deleteOwn(engine, group, plan.copies, signal, log);
  }
  if (releases(plan) && outcome.error === undefined) await releaseFinalizer(deps.patch, group);
  return outcome;
}

async function create(
  engine: Engine,
  plan: Extract<Plan, { kind: "create" }>,
  signal: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  try {
    const created = await engine.createGroupVirtualCopy(plan.request, { signal });
    log.info({ namePrefix: plan.request.namePrefix, members: created.length }, "Created group virtual copy on array");
    return { created };
  } catch (e: unknown) {
    const error = e instanceof EngineError ? e : withContext("cannot create group virtual copy", e);
    log.warn({ err: error.message, code: error.code, kind: error.kind }, "Engine call failed");
    return { error };
  }
}

/** Deletes each copy whose owner tag names the group (checked again here, and by the engine); the first error. */
async function deleteOwn(
  engine: Engine,
  group: VirtualCopyGroupObject,
  copies: readonly CopyObservation[],
  signal: AbortSignal,
  log: Logger,
): Promise<Outcome> {
  const owner = ownerTag(group.metadata);
  let deleted = 0;
  let error: EngineError | undefined;
  for (const copy of copies) {
    if (!sameOwner(copy.owner, owner)) continue;
    try {
      await engine.deleteCopy({ name: copy.name, owner }, { signal });
      deleted += 1;
      log.info({ arrayName: copy.name }, "Deleted member copy from array");
    } catch (e: unknown) {
      const err = e instanceof EngineError ? e : withContext(`cannot delete member copy ${copy.name}`, e);
      log.warn({ err: err.message, code: err.code, kind: err.kind }, "Engine call failed");
      error ??= err;
    }
  }
  return { deleted, error };
}

async function publishReport(
  deps: VirtualCopyGroupDeps,
  group: VirtualCopyGroupObject,
  rep: Report,
  log: Logger,
): Promise<Result> {
  const { result, published } = await publishCopyReport(
    { status: deps.status, events: deps.ctx.events, now: deps.ctx.clock.now() },
    "VirtualCopyGroup",
    group,
    rep,
  );
  if (published.written) log.debug({ reason: rep.reason }, "Wrote status");
  return result;
}
