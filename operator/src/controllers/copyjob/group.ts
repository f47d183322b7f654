// The shell of a CopyJob on a VirtualCopyGroup (a group Restore): gather → decide (group-decide.ts) → act →
// report (group-status.ts), as reconciler.ts does for a job on one copy.
//
// Gather reads the group from the cache and, through its class's engine, each member's copy (kept only when its
// owner tag names the group) and its task: by the id recorded in status.members, or, after a start whose answer
// was lost, the copy's task of our operation submitted since the job's start intent (adoption). Act makes at most
// one engine call: the next member's start (the intent recorded on the job first) or one running member's halt.
import type { Logger } from "pino";
import { EngineError, withContext } from "../../engine/errors.ts";
import type { Engine } from "../../engine/port.ts";
import { sameOwner } from "../../engine/ownership.ts";
import { after, done, type Reconcile } from "../../kube/controller.ts";
import { connect } from "../shared/connect.ts";
import { ownerTag } from "../shared/naming.ts";
import type { CopyJobObject } from "../shared/objects.ts";
import { reconcileSteps, type Gathering } from "../shared/reconcile.ts";
import { decideGroupJob, priorityOf, recordedMembers, type GroupJobGathered, type MemberView } from "./group-decide.ts";
import { groupJobReport, type GroupJobOutcome } from "./group-status.ts";
import { expireJob, haltTask, publishJobReport, recordStartIntent, taskOf, type CopyJobDeps } from "./shell.ts";

export function groupJobReconciler(deps: CopyJobDeps): Reconcile {
  return reconcileSteps(deps.ctx.log, {
    get: (key) => deps.ctx.caches.jobs.get(key),
    gather: (job, signal) => gather(deps, job, signal),
    decide: decideGroupJob,
    act: (g, plan, engine, signal, log) => act(deps, g, plan, engine, signal, log),
    publish: (g, plan, outcome) => {
      if (plan.kind === "finished") return Promise.resolve(done);
      if (plan.kind === "expire") return Promise.resolve(outcome.expired === true ? done : after(plan.afterMs));
      const group = g.group === undefined ? undefined : { kind: "VirtualCopyGroup" as const, meta: g.group.metadata };
      return publishJobReport(deps, g.job, group, groupJobReport(g, plan, outcome));
    },
  });
}

async function gather(
  deps: CopyJobDeps,
  job: CopyJobObject,
  signal: AbortSignal,
): Promise<Gathering<GroupJobGathered>> {
  const { ctx } = deps;
  const now = ctx.clock.now();
  const group = ctx.caches.groups.getByName(job.metadata.namespace, job.spec.copyRef.name);
  const finished = job.status?.conditions?.some((c) => c.type === "Succeeded" && c.status !== "Unknown") === true;
  if (finished || group === undefined) return { g: { job, now, group, link: undefined }, engine: undefined };
  const owner = ownerTag(group.metadata);
  const recorded = recordedMembers(job);
  const { link, engine } = await connect(
    ctx,
    { requested: group.spec.copyClassName, recorded: group.status?.copyClassName },
    async (e): Promise<MemberView[]> => {
      const views: MemberView[] = [];
      for (const m of group.status?.members ?? []) {
        const seen = await e.observeCopy(m.arrayName, { signal });
        const copy = seen !== undefined && sameOwner(seen.owner, owner) ? seen : undefined;
        const id = recorded.get(m.arrayName)?.arrayJobId;
        const task = await taskOf(e, job, id, copy?.activeJob ?? copy?.lastJob, signal);
        views.push({ arrayName: m.arrayName, sourceVolume: m.sourceVolume, copy, task });
      }
      return views;
    },
    "the group's member copies",
  );
  return { g: { job, now, group, link }, engine };
}

async function act(
  deps: CopyJobDeps,
  g: GroupJobGathered,
  plan: ReturnType<typeof decideGroupJob>,
  engine: Engine | undefined,
  signal: AbortSignal,
  log: Logger,
): Promise<GroupJobOutcome> {
  if (plan.kind === "expire" && plan.afterMs <= 0) return expireJob(deps, g.job, log);
  if (engine === undefined || (plan.kind !== "start" && plan.kind !== "halt")) return {};
  const member = plan.member;
  try {
    if (plan.kind === "halt") {
      const task = await haltTask(engine, plan.id, plan.owner, signal);
      log.info({ task: plan.id }, "Halted member's array task");
      return { member, task };
    }
    await recordStartIntent(deps, g.job, g.now);
    const priority = priorityOf(g.job);
    const task = await engine.startJob(
      { copy: plan.copy, owner: plan.owner, operation: "Restore", ...(priority === undefined ? {} : { priority }) },
      { signal },
    );
    log.info({ task: task.id, member: plan.copy }, "Started member's array task");
    return { member, task };
  } catch (e: unknown) {
    const error = e instanceof EngineError ? e : withContext(`cannot restore member ${String(member)}`, e);
    log.warn({ err: error.message, code: error.code, kind: error.kind, member }, "Engine call failed");
    return { member, error };
  }
}
