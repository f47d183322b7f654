// The PhysicalCopy controller: woken by its copies, any class, the jobs acting on a copy (its initial copy among
// them), and the engine's indications of those jobs. It creates the initial CopyJob.
import { group, version } from "../../api/common.ts";
import { physicalCopiesOfIndication } from "../shared/indications.ts";
import {
  contextFor,
  copyOfJob,
  metadataPatcher,
  plurals,
  statusWriter,
  type ControllerSetup,
  type SetupDeps,
} from "../shared/setup.ts";
import { physicalCopyReconciler } from "./reconciler.ts";

export function physicalCopySetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  return {
    name: "physicalcopy",
    watches: [
      { source: caches.physicalCopies.ignoringStatus() },
      { source: caches.classes.ignoringStatus(), map: () => caches.physicalCopies.keys() },
      { source: caches.jobs, map: copyOfJob(caches, "PhysicalCopy") },
      { source: deps.indications, map: physicalCopiesOfIndication(caches.physicalCopies) },
    ],
    reconcile: physicalCopyReconciler({
      ctx: contextFor(deps, "physicalcopy"),
      status: statusWriter(deps, "PhysicalCopy", "arraycopy-physicalcopy"),
      patch: metadataPatcher(deps, "PhysicalCopy"),
      createJob: async (namespace, body) => {
        await deps.clients.customObjects.createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural: plurals.CopyJob,
          body,
        });
      },
    }),
  };
}
