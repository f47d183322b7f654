// The VirtualCopyGroup controller: woken by its groups, by any class (a new default, a fixed class) and by the
// CopyJobs restoring a group (a failed one makes it Broken). PVCs are not watched: a group waiting for its claims
// looks again with the recheck backoff, as a VirtualCopy does.
import { contextFor, metadataPatcher, statusWriter, type ControllerSetup, type SetupDeps } from "../shared/setup.ts";
import type { Caches } from "../shared/context.ts";
import { virtualCopyGroupReconciler } from "./reconciler.ts";

/** The group a CopyJob acts on, if it acts on one. */
function groupOfJob(jobs: Caches["jobs"]): (key: string) => readonly string[] {
  return (key) => {
    const job = jobs.get(key);
    if (job?.spec.copyRef.kind !== "VirtualCopyGroup") return [];
    return [`${job.metadata.namespace ?? ""}/${job.spec.copyRef.name}`];
  };
}

export function virtualCopyGroupSetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  return {
    name: "virtualcopygroup",
    watches: [
      { source: caches.groups.ignoringStatus() },
      { source: caches.classes.ignoringStatus(), map: () => caches.groups.keys() },
      { source: caches.jobs, map: groupOfJob(caches.jobs) },
    ],
    reconcile: virtualCopyGroupReconciler({
      ctx: contextFor(deps, "virtualcopygroup"),
      status: statusWriter(deps, "VirtualCopyGroup", "arraycopy-virtualcopygroup"),
      patch: metadataPatcher(deps, "VirtualCopyGroup"),
    }),
  };
}
