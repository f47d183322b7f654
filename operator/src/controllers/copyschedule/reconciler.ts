// CopySchedule reconciler: gather → decide → act → report for one schedule. It talks to no engine: what it makes
// (VirtualCopies, VirtualCopyGroups or CopyJobs) is reconciled by their own controllers, which own the array side.
//
// Owns: the objects it makes (named <schedule>-<yyyymmddhhmm>, labelled arraycopy.io/schedule, annotated
// arraycopy.io/scheduled-at, with a controller ownerReference to the schedule), their deletion by retention and
// when the schedule is deleted, the finalizer arraycopy.io/schedule-copies, and the CopySchedule's status (field
// manager arraycopy-copyschedule): times, the newest run, kept copies, counts, Ready / Reconciling / Stalled.
//
// Invariants: time comes from the controller's clock (injected: tests move it on to a run's time); the run's
// object is created under its deterministic name, so a create whose answer was lost or a restart before the
// status write never makes a second one (AlreadyExists is looked at again with a fresh cache); an object being
// deleted is never asked to be deleted again (no hot loop on a copy the array refuses to delete); status is
// written once per reconcile, after the Kubernetes calls.
import type { Logger } from "pino";
import { apiVersion } from "../../api/common.ts";
import { findCondition, metaTime } from "../../kube/conditions.ts";
import type { Reconcile, Result } from "../../kube/controller.ts";
import { apiStatus, isAlreadyExists, isNotFound, summarise } from "../../kube/errors.ts";
import { addFinalizerPatch, removeFinalizerPatch, type JsonPatchOp } from "../../kube/finalizers.ts";
import type { Clock } from "../../kube/clock.ts";
import type { StatusWriter } from "../../kube/status.ts";
import type { ControllerContext } from "../shared/context.ts";
import type {
  CopyJobObject,
  CopyScheduleObject,
  Meta,
  VirtualCopyGroupObject,
  VirtualCopyObject,
} from "../shared/objects.ts";
import { objectRef, publish } from "../shared/publish.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import {
  decideSchedule,
  madeKindOf,
  scheduledAtAnnotation,
  scheduleFinalizer,
  scheduleLabel,
  type Made,
  type MadeKind,
  type ScheduleGathered,
  type SchedulePlan,
} from "./decide.ts";
import type { CopyState } from "./retention.ts";
import { scheduleReport, type ScheduleOutcome } from "./status.ts";

export interface CopyScheduleDeps {
  readonly ctx: ControllerContext;
  readonly clock: Clock;
  readonly status: StatusWriter;
  /** JSON patch of the schedule's metadata (its finalizer). */
  readonly patchSchedule: (s: CopyScheduleObject, ops: readonly JsonPatchOp[]) => Promise<void>;
  /** JSON patch of a CopyJob (Replace terminates the running one). */
  readonly patchJob: (
    job: { metadata: { namespace?: string; name: string } },
    ops: readonly JsonPatchOp[],
  ) => Promise<void>;
  readonly create: (kind: MadeKind, namespace: string, body: Record<string, unknown>) => Promise<void>;
  readonly remove: (kind: MadeKind, namespace: string, name: string) => Promise<void>;
}

export function copyScheduleReconciler(deps: CopyScheduleDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.schedules.get(key),
    gather: (s) => Promise.resolve(gather(deps, s)),
    decide: decideSchedule,
    act: (g, plan, _engine, _signal, log) => act(deps, g, plan, log),
    publish: (g, plan, outcome) => publishReport(deps, g, plan, outcome),
  });
}

const refusedReasons = new Set(["DeletionRefused", "DeletionBlocked"]);

type MadeObject = VirtualCopyObject | VirtualCopyGroupObject | CopyJobObject;

/** A copy (or a group: every member) counts once Ready; a job once it Succeeded. */
function stateOf(kind: MadeKind, o: MadeObject): CopyState {
  const conds = o.status?.conditions;
  if (kind === "CopyJob") {
    const s = findCondition(conds, "Succeeded")?.status;
    return s === "True" ? "ready" : s === "False" ? "failed" : "running";
  }
  const ready = findCondition(conds, "Ready");
  if (ready?.status === "True") return "ready";
  // Not yet reported, or on its way (Reconciling is written only while True); else stalled or resting: failed.
  return ready === undefined || findCondition(conds, "Reconciling")?.status === "True" ? "running" : "failed";
}

function madeOf(kind: MadeKind, o: MadeObject): Made {
  const scheduled = Date.parse(o.metadata.annotations?.[scheduledAtAnnotation] ?? "");
  const created = Date.parse(o.metadata.creationTimestamp ?? "");
  const ready = findCondition(o.status?.conditions, "Ready");
  const deleting = o.metadata.deletionTimestamp !== undefined;
  return {
    name: o.metadata.name,
    at: Number.isNaN(scheduled) ? created : scheduled,
    state: stateOf(kind, o),
    deleting,
    refused: deleting && ready !== undefined && refusedReasons.has(ready.reason) ? ready.message : undefined,
  };
}

const ownedBy = (meta: Meta, uid: string): boolean =>
  (meta.ownerReferences ?? []).some((r) => r.uid === uid && r.controller === true);

function gather(deps: CopyScheduleDeps, s: CopyScheduleObject): Gathering<ScheduleGathered> {
  const ns = s.metadata.namespace ?? "";
  const kind = madeKindOf(s);
  const { caches } = deps.ctx;
  const objects: readonly MadeObject[] =
    kind === "VirtualCopy"
      ? caches.virtualCopies.list(ns)
      : kind === "VirtualCopyGroup"
        ? caches.groups.list(ns)
        : caches.jobs.list(ns);
  const made: Made[] = [];
  const foreign = new Set<string>();
  for (const o of objects) {
    if (ownedBy(o.metadata, s.metadata.uid)) made.push(madeOf(kind, o));
    else foreign.add(o.metadata.name);
  }
  return { g: { schedule: s, now: deps.clock.now(), kind, made, foreign }, engine: undefined };
}

async function act(
  deps: CopyScheduleDeps,
  g: ScheduleGathered,
  plan: SchedulePlan,
  log: Logger,
): Promise<ScheduleOutcome> {
  const { schedule: s, kind } = g;
  const ns = s.metadata.namespace ?? "";
  if (plan.kind === "finalize") {
    const removed = await removeAll(
      deps,
      kind,
      ns,
      plan.remove.map((m) => m.name),
    );
    if (plan.release) {
      const ops = removeFinalizerPatch(s.metadata, scheduleFinalizer);
      if (ops !== undefined) await deps.patchSchedule(s, ops);
      log.info("Released the schedule: what it made is gone or being deleted");
    }
    return { removed };
  }
  if (plan.addFinalizer) {
    const ops = addFinalizerPatch(s.metadata, scheduleFinalizer);
    if (ops !== undefined) await deps.patchSchedule(s, ops);
  }
  if (plan.kind === "invalid") return {};
  let outcome: ScheduleOutcome = {};
  const tick = plan.tick;
  if (tick.kind === "make") {
    const replaced = await replace(deps, kind, ns, tick.replace);
    try {
      await deps.create(kind, ns, body(s, kind, tick.name, tick.at));
      log.info({ run: tick.name, scheduledAt: metaTime(new Date(tick.at)) }, `Created ${kind} for a scheduled run`);
      outcome = { created: true, replaced };
    } catch (e: unknown) {
      if (isAlreadyExists(e)) outcome = { conflict: true, replaced };
      else if (isInvalidRequest(e)) outcome = { createError: summarise(e), replaced };
      else throw e;
    }
  }
  const pruned = await removeAll(
    deps,
    kind,
    ns,
    plan.prune.map((m) => m.name),
  );
  if (pruned.length > 0) log.info({ pruned }, "Pruned by retention");
  return { ...outcome, pruned };
}

/** A refusal retrying cannot fix (the template is wrong, an admission policy says no): shown, not retried fast. */
function isInvalidRequest(e: unknown): boolean {
  const code = apiStatus(e)?.code;
  return code === 400 || code === 403 || code === 422;
}

async function removeAll(
  deps: CopyScheduleDeps,
  kind: MadeKind,
  ns: string,
  names: readonly string[],
): Promise<string[]> {
  const done: string[] = [];
  for (const name of names) {
    try {
      await deps.remove(kind, ns, name);
    } catch (e: unknown) {
      if (!isNotFound(e)) throw e;
    }
    done.push(name);
  }
  return done;
}

/**
 * Replace: a running copy (or group) is deleted; a running job is terminated (deleting it would not stop its array
 * task).
 */
async function replace(
  deps: CopyScheduleDeps,
  kind: MadeKind,
  ns: string,
  running: readonly Made[],
): Promise<string[]> {
  if (kind !== "CopyJob")
    return removeAll(
      deps,
      kind,
      ns,
      running.map((m) => m.name),
    );
  for (const m of running) {
    await deps.patchJob({ metadata: { namespace: ns, name: m.name } }, [
      { op: "add", path: "/spec/requestedState", value: "Terminate" },
    ]);
  }
  return running.map((m) => m.name);
}

/** The run's object: the template, labelled and annotated, owned by the schedule. */
function body(s: CopyScheduleObject, kind: MadeKind, name: string, at: number): Record<string, unknown> {
  const template =
    kind === "VirtualCopy"
      ? s.spec.virtualCopyTemplate
      : kind === "VirtualCopyGroup"
        ? s.spec.virtualCopyGroupTemplate
        : s.spec.copyJobTemplate;
  return {
    apiVersion,
    kind,
    metadata: {
      name,
      namespace: s.metadata.namespace,
      labels: { ...template?.metadata?.labels, [scheduleLabel]: s.metadata.name },
      annotations: { ...template?.metadata?.annotations, [scheduledAtAnnotation]: metaTime(new Date(at)) },
      ownerReferences: [
        {
          apiVersion,
          kind: "CopySchedule",
          name: s.metadata.name,
          uid: s.metadata.uid,
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    spec: template?.spec ?? {},
  };
}

async function publishReport(
  deps: CopyScheduleDeps,
  g: ScheduleGathered,
  plan: SchedulePlan,
  outcome: ScheduleOutcome,
): Promise<Result> {
  const rep = scheduleReport(g, plan, outcome);
  const regarding = objectRef("CopySchedule", g.schedule.metadata);
  const events = rep.events.map((ev) => ({
    ...ev,
    regarding,
    action: ev.reason === "Pruned" || ev.reason === "DeletionRefused" ? "Delete" : "Schedule",
  }));
  const p = {
    write: rep.write,
    stopIfGone: true,
    fields: rep.fields,
    conditions: rep.conditions,
    events,
    next: rep.next,
  };
  return (await publish({ status: deps.status, events: deps.ctx.events, now: deps.clock.now() }, g.schedule, p)).result;
}
