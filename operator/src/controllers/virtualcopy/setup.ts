// The VirtualCopy controller: woken by its copies, any class (a new default, a fixed class), the jobs acting on a
// copy (a restore), and the engine's indications of those jobs.
import { virtualCopiesOfIndication } from "../shared/indications.ts";
import {
  contextFor,
  copyOfJob,
  metadataPatcher,
  statusWriter,
  type ControllerSetup,
  type SetupDeps,
} from "../shared/setup.ts";
import { virtualCopyReconciler } from "./reconciler.ts";

export function virtualCopySetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  return {
    name: "virtualcopy",
    watches: [
      { source: caches.virtualCopies.ignoringStatus() },
      { source: caches.classes.ignoringStatus(), map: () => caches.virtualCopies.keys() },
      { source: caches.jobs, map: copyOfJob(caches, "VirtualCopy") },
      { source: deps.indications, map: virtualCopiesOfIndication(caches.virtualCopies) },
    ],
    reconcile: virtualCopyReconciler({
      ctx: contextFor(deps, "virtualcopy"),
      status: statusWriter(deps, "VirtualCopy", "arraycopy-virtualcopy"),
      patch: metadataPatcher(deps, "VirtualCopy"),
    }),
  };
}
