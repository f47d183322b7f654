// The VirtualCopyGroup controller: woken by its groups and by any class (a new default, a fixed class). PVCs are
// not watched: a group waiting for its claims looks again with the recheck backoff, as a VirtualCopy does.
import { contextFor, metadataPatcher, statusWriter, type ControllerSetup, type SetupDeps } from "../shared/setup.ts";
import { virtualCopyGroupReconciler } from "./reconciler.ts";

export function virtualCopyGroupSetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  return {
    name: "virtualcopygroup",
    watches: [{ source: caches.groups }, { source: caches.classes, map: () => caches.groups.keys() }],
    reconcile: virtualCopyGroupReconciler({
      ctx: contextFor(deps, "virtualcopygroup"),
      status: statusWriter(deps, "VirtualCopyGroup", "arraycopy-virtualcopygroup"),
      patch: metadataPatcher(deps, "VirtualCopyGroup"),
    }),
  };
}
