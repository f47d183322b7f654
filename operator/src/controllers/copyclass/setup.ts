// The CopyClass controller: its classes, and the engines of the classes that are gone.
import { copyClassReconciler } from "./reconciler.ts";
import { contextFor, statusWriter, type ControllerSetup, type SetupDeps } from "../shared/setup.ts";

export function copyClassSetup(deps: SetupDeps): ControllerSetup {
  return {
    name: "copyclass",
    watches: [{ source: deps.ctx.caches.classes.ignoringStatus() }],
    reconcile: copyClassReconciler({
      ctx: contextFor(deps, "copyclass"),
      status: statusWriter(deps, "CopyClass", "arraycopy-copyclass"),
      retain: deps.retainEngines,
    }),
  };
}
