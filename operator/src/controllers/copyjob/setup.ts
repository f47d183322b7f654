// The CopyJob controller: woken by its jobs, the copies and groups they act on, and the engine's indications of
// their array tasks (a group job's members' too). It deletes finished jobs after their TTL.
import { group, version } from "../../api/common.ts";
import { jobsOfIndication } from "../shared/indications.ts";
import {
  contextFor,
  jobsOfCopy,
  metadataPatcher,
  plurals,
  statusWriter,
  type ControllerSetup,
  type SetupDeps,
} from "../shared/setup.ts";
import { copyJobReconciler } from "./reconciler.ts";

export function copyJobSetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  return {
    name: "copyjob",
    watches: [
      { source: caches.jobs },
      { source: caches.virtualCopies, map: jobsOfCopy(caches, "VirtualCopy") },
      { source: caches.physicalCopies, map: jobsOfCopy(caches, "PhysicalCopy") },
      { source: caches.groups, map: jobsOfCopy(caches, "VirtualCopyGroup") },
      { source: deps.indications, map: jobsOfIndication(caches.jobs) },
    ],
    reconcile: copyJobReconciler({
      ctx: contextFor(deps, "copyjob"),
      status: statusWriter(deps, "CopyJob", "arraycopy-copyjob"),
      patch: metadataPatcher(deps, "CopyJob"),
      deleteJob: async (job) => {
        await deps.clients.customObjects.deleteNamespacedCustomObject({
          group,
          version,
          namespace: job.metadata.namespace ?? "",
          plural: plurals.CopyJob,
          name: job.metadata.name,
        });
      },
    }),
  };
}
