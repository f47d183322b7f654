// What a controller's setup.ts gives main.ts — its name, the watches that wake its keys and its reconciler — and
// the pieces each setup builds them from: the kinds' plurals, a status writer per field manager, a metadata
// patcher, and the secondary-watch maps between jobs and the copies they act on. main.ts only loops over setups.
// A controller watches its own kind, and the classes, through `ignoringStatus()`: its own status write does not
// wake it a second time, and nothing it decides reads a class's status. Watches of another kind whose status it
// does read (a job waiting for its copy to be Ready, a schedule counting its Ready copies) hear every change, and
// so does the CopyJob controller's watch of its jobs: it acts on what its last write recorded (a group job starts
// its next member once the last one's task is in the status; a finished job's TTL counts from its completion).
import { apiVersion, group, version } from "../../api/common.ts";
import type { Clients } from "../../kube/client.ts";
import type { Clock } from "../../kube/clock.ts";
import type { Reconcile, Watched } from "../../kube/controller.ts";
import { customObjectPatcher, restObjectPatcher, type JsonPatchOp } from "../../kube/finalizers.ts";
import { StatusWriter, customObjectStatusApplier, restStatusApplier } from "../../kube/status.ts";
import type { Caches, ControllerContext } from "./context.ts";
import type { EngineIndications } from "./indications.ts";

export const plurals = {
  CopyClass: "copyclasses",
  VirtualCopy: "virtualcopies",
  VirtualCopyGroup: "virtualcopygroups",
  PhysicalCopy: "physicalcopies",
  CopyJob: "copyjobs",
  CopySchedule: "copyschedules",
} as const;
export type Kind = keyof typeof plurals;

export interface ControllerSetup {
  readonly name: string;
  readonly watches: readonly Watched[];
  readonly reconcile: Reconcile;
  /** The clock of this controller's queue, when not the operator's (the CopySchedule controller's, in tests). */
  readonly clock?: Clock;
}

/** What main.ts hands every setup. */
export interface SetupDeps {
  readonly ctx: ControllerContext;
  readonly clients: Clients;
  readonly clock: Clock;
  /**
   * The clock the CopySchedule controller reads and schedules runs by: the operator's, unless a test moves time
   * on by hand (RunOptions.scheduleClock).
   */
  readonly scheduleClock: Clock;
  /** Engine job indications, as a key source. */
  readonly indications: EngineIndications;
  /** Closes the engines of classes that are gone. */
  readonly retainEngines: (classNames: ReadonlySet<string>) => Promise<void>;
}

/** The context with a logger named after the controller. */
export function contextFor(deps: SetupDeps, controller: string): ControllerContext {
  return { ...deps.ctx, log: deps.ctx.log.child({ controller }) };
}

export function target(kind: Kind): { apiVersion: string; kind: Kind; group: string; version: string; plural: string } {
  return { apiVersion, kind, group, version, plural: plurals[kind] };
}

/** A status writer for one kind, under the controller's own field manager. */
export function statusWriter(deps: SetupDeps, kind: Kind, fieldManager: string): StatusWriter {
  return new StatusWriter({
    target: target(kind),
    fieldManager,
    apply:
      deps.clients.rest === undefined
        ? customObjectStatusApplier(deps.clients.customObjects, target(kind), fieldManager)
        : restStatusApplier(deps.clients.rest, target(kind), fieldManager),
    clock: deps.clock,
  });
}

/** JSON patches of an object's metadata (finalizers, intent annotations). */
export function metadataPatcher(
  deps: SetupDeps,
  kind: Kind,
): (obj: { metadata: { namespace?: string; name: string } }, ops: readonly JsonPatchOp[]) => Promise<void> {
  const rest = deps.clients.rest;
  return (obj, ops) => {
    const ref = {
      group,
      version,
      plural: plurals[kind],
      namespace: obj.metadata.namespace ?? "",
      name: obj.metadata.name,
    };
    return (rest === undefined ? customObjectPatcher(deps.clients.customObjects, ref) : restObjectPatcher(rest, ref))(
      ops,
    );
  };
}

/** A job's change wakes the copy of `kind` it acts on. */
export function copyOfJob(caches: Caches, kind: "VirtualCopy" | "PhysicalCopy"): (key: string) => readonly string[] {
  return (key) => {
    const job = caches.jobs.get(key);
    return job?.spec.copyRef.kind === kind ? [`${job.metadata.namespace ?? ""}/${job.spec.copyRef.name}`] : [];
  };
}

/** A copy's change wakes the jobs that act on it. */
export function jobsOfCopy(
  caches: Caches,
  kind: "VirtualCopy" | "PhysicalCopy" | "VirtualCopyGroup",
): (key: string) => readonly string[] {
  return (key) => {
    const [ns = "", name = ""] = key.split("/");
    return caches.jobs
      .list(ns)
      .filter((j) => j.spec.copyRef.kind === kind && j.spec.copyRef.name === name)
      .map((j) => `${ns}/${j.metadata.name}`);
  };
}
