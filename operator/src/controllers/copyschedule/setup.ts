// The CopySchedule controller: woken by its schedules and by the VirtualCopies, VirtualCopyGroups and CopyJobs
// they made (a run that finishes, a copy deleted), and by its own timers at each run's time. Its queue runs on the
// schedule clock, which tests move on by hand instead of waiting hours.
import { group, version } from "../../api/common.ts";
import type { Informer } from "../../kube/informer.ts";
import {
  contextFor,
  metadataPatcher,
  plurals,
  statusWriter,
  type ControllerSetup,
  type SetupDeps,
} from "../shared/setup.ts";
import type { Meta } from "../shared/objects.ts";
import { scheduleOfRunName, type MadeKind } from "./decide.ts";
import { copyScheduleReconciler } from "./reconciler.ts";

/**
 * A made object's change wakes its schedule: by its controller ownerReference, or, once it is gone from the cache
 * (deleted), by its name <schedule>-<yyyymmddhhmm> (a wake for nothing when another object has such a name).
 */
function scheduleOf(cache: Informer<{ metadata: Meta }>): (key: string) => readonly string[] {
  return (key) => {
    const [ns = "", name = ""] = key.split("/");
    const obj = cache.get(key);
    if (obj === undefined) {
      const schedule = scheduleOfRunName(name);
      return schedule === undefined ? [] : [`${ns}/${schedule}`];
    }
    const owner = (obj.metadata.ownerReferences ?? []).find((r) => r.kind === "CopySchedule" && r.controller === true);
    return owner === undefined ? [] : [`${ns}/${owner.name}`];
  };
}

export function copyScheduleSetup(deps: SetupDeps): ControllerSetup {
  const { caches } = deps.ctx;
  const clock = deps.scheduleClock;
  const plural = (kind: MadeKind) => plurals[kind];
  return {
    name: "copyschedule",
    clock,
    watches: [
      { source: caches.schedules.ignoringStatus() },
      { source: caches.virtualCopies, map: scheduleOf(caches.virtualCopies) },
      { source: caches.groups, map: scheduleOf(caches.groups) },
      { source: caches.jobs, map: scheduleOf(caches.jobs) },
    ],
    reconcile: copyScheduleReconciler({
      ctx: { ...contextFor(deps, "copyschedule"), clock },
      clock,
      status: statusWriter({ ...deps, clock }, "CopySchedule", "arraycopy-copyschedule"),
      patchSchedule: metadataPatcher(deps, "CopySchedule"),
      patchJob: metadataPatcher(deps, "CopyJob"),
      create: async (kind, namespace, body) => {
        await deps.clients.customObjects.createNamespacedCustomObject({
          group,
          version,
          namespace,
          plural: plural(kind),
          body,
        });
      },
      remove: async (kind, namespace, name) => {
        await deps.clients.customObjects.deleteNamespacedCustomObject({
          group,
          version,
          namespace,
          plural: plural(kind),
          name,
        });
      },
    }),
  };
}
