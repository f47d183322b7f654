// PhysicalCopy decisions. The initial copy runs as an owned CopyJob (operation Copy) that the CopyJob controller
// executes; this controller resolves the source and target volumes into status (the job reads them there),
// creates that job once, follows the copy on the array, and on deletion halts a running copy and removes what
// the operator made: the online target (Delete), or the association and its saved snapshot (Delete, offline).
// A pre-existing target volume is never deleted: it is the user's.
//
// Invariants: at most one engine call per pass; nothing is started before the finalizer is on; a copy that
// existed and is gone is reported Lost, never copied again behind the user's back.
import type { CopyObservation } from "../../engine/port.ts";
import type { EngineError } from "../../engine/errors.ts";
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import type { ClassResolution } from "../shared/classes.ts";
import { arrayName } from "../shared/naming.ts";
import { copyFinalizer, jobFinished, type CopyJobObject, type PhysicalCopyObject } from "../shared/objects.ts";
import type { VolumeResolution } from "../shared/sources.ts";

export interface PcGathered {
  readonly pc: PhysicalCopyObject;
  readonly now: number;
  readonly cls: ClassResolution;
  readonly engineError?: string | undefined;
  readonly source?: VolumeResolution | undefined;
  readonly target?: VolumeResolution | undefined;
  readonly observed?: CopyObservation | undefined;
  readonly observeError?: EngineError | undefined;
  /** The owned CopyJob running the initial copy. */
  readonly initialJob?: CopyJobObject | undefined;
  /** An unfinished CopyJob acting on this copy. */
  readonly activeJob?: CopyJobObject | undefined;
}

export type PcEngineCall =
  | { readonly kind: "halt"; readonly copy: string }
  | { readonly kind: "delete"; readonly copy: string }
  | { readonly kind: "detach"; readonly copy: string };

export interface PcPlan {
  readonly addFinalizer: boolean;
  readonly createInitialJob: boolean;
  readonly engine: PcEngineCall | undefined;
  readonly removeFinalizer: boolean;
  /** Deletion waits for the initial job to settle (its task may still be submitted). */
  readonly waitMs: number | undefined;
}

const nothing: PcPlan = {
  addFinalizer: false,
  createInitialJob: false,
  engine: undefined,
  removeFinalizer: false,
  waitMs: undefined,
};

export const initialJobName = (pc: PhysicalCopyObject): string => {
  const name = `${pc.metadata.name}-copy`;
  return name.length <= 253 ? name : `${pc.metadata.name.slice(0, 240)}-${pc.metadata.uid.slice(0, 7)}-copy`;
};

/** The target's array name: the existing volume (offline), or pc-<uid> that the array creates (online). */
export function targetOf(pc: PhysicalCopyObject): string | undefined {
  if (pc.spec.target.create !== undefined) return arrayName("pc", pc.metadata.uid);
  return pc.spec.target.volumeName ?? pc.status?.targetVolume;
}

export function wasCreated(pc: PhysicalCopyObject): boolean {
  return pc.status?.creationTime !== undefined;
}

export function deletionPolicyOf(g: PcGathered): "Delete" | "Retain" {
  return g.pc.spec.deletionPolicy ?? (g.cls.ok ? g.cls.cls.spec.deletionPolicy : "Delete");
}

export function decidePc(g: PcGathered): PcPlan {
  return isDeleting(g.pc.metadata) ? decideDeletion(g) : decideLife(g);
}

function decideLife(g: PcGathered): PcPlan {
  if (!g.cls.ok || g.engineError !== undefined || g.observeError !== undefined) return nothing;
  const addFinalizer = !hasFinalizer(g.pc.metadata, copyFinalizer);
  const volumesKnown = g.pc.status?.sourceVolume !== undefined && g.pc.status.targetVolume !== undefined;
  const volumesResolved = g.source?.ok === true && g.target?.ok === true;
  const createInitialJob =
    g.observed === undefined && !wasCreated(g.pc) && g.initialJob === undefined && (volumesKnown || volumesResolved);
  return { ...nothing, addFinalizer, createInitialJob };
}

function decideDeletion(g: PcGathered): PcPlan {
  if (!hasFinalizer(g.pc.metadata, copyFinalizer)) return nothing;
  if (!g.cls.ok || g.engineError !== undefined || g.observeError !== undefined) return nothing;
  const copy = g.observed;
  if (copy === undefined) {
    // A Copy job still submitting its task could create the copy after we let go: wait for it to settle.
    const submitting =
      g.initialJob !== undefined && !jobFinished(g.initialJob) && g.initialJob.status?.jobState === "Starting";
    return submitting ? { ...nothing, waitMs: 1_000 } : { ...nothing, removeFinalizer: true };
  }
  if (copy.activeJob !== undefined) return { ...nothing, engine: { kind: "halt", copy: copy.name } };
  if (deletionPolicyOf(g) === "Retain") return { ...nothing, removeFinalizer: true };
  if (copy.online) return { ...nothing, engine: { kind: "delete", copy: copy.name }, removeFinalizer: true };
  // Only an association (UnSyncAssoc) can be ended: a copy made without saveSnapshot that broke keeps an
  // UnSyncUnAssoc synchronization the array refuses to detach (NON_EXISTENT_VVCOPY), which would strand the finalizer.
  if (copy.synchronization?.copyType === "UnSyncAssoc")
    return { ...nothing, engine: { kind: "detach", copy: copy.name }, removeFinalizer: true };
  return { ...nothing, removeFinalizer: true };
}
