// PhysicalCopy decisions. The initial copy runs as an owned CopyJob (operation Copy) that the CopyJob controller
// executes: this controller resolves the source and target volumes and hands them to that job in its spec,
// creates the job once, follows the copy on the array, and on deletion halts a running copy and removes what
// the operator made: the online target (Delete), or the association and its saved snapshot (Delete, offline).
// A pre-existing target volume is never deleted: it is the user's.
//
// Invariants: at most one engine call per pass; nothing is started before the finalizer is on; a copy that
// existed and is gone is reported Lost, never copied again behind the user's back.
import type { Capabilities, CopyObservation } from "../../engine/port.ts";
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import { classOf, type Blocked, type Link } from "../shared/connect.ts";
import { arrayName } from "../shared/naming.ts";
import {
  copyFinalizer,
  jobFinished,
  populateSourceFinalizer,
  startRequested,
  type CopyJobObject,
  type PhysicalCopyObject,
} from "../shared/objects.ts";
import type { VolumeResolution } from "../shared/sources.ts";
import { targetReason, type PhysicalCopyReason } from "./reasons.ts";

export interface PcGathered {
  readonly pc: PhysicalCopyObject;
  readonly now: number;
  /** Class → engine → what the array holds on the target for this copy (undefined: nothing of ours). */
  readonly link: Link<CopyObservation | undefined>;
  /** Resolved while the copy is still to be made. */
  readonly source?: VolumeResolution | undefined;
  readonly target?: VolumeResolution | undefined;
  /** The owned CopyJob running the initial copy. */
  readonly initialJob?: CopyJobObject | undefined;
  /** An unfinished CopyJob acting on this copy. */
  readonly activeJob?: CopyJobObject | undefined;
}

export interface CopyVolumes {
  readonly source: string;
  readonly target: string;
}

/**
 * One step, with its reason. Life: blocked, unsupported, waitForVolumes (a source or target that does not
 * resolve), startCopy (create the initial CopyJob with the volumes), pending (that job has not made the copy
 * yet), exists (observed on the array), gone (created once, no longer there). Deletion: blocked, halt, delete,
 * detach, wait (the initial job may still submit its task), release, none.
 */
export type PcPlan =
  | { readonly kind: "blocked"; readonly blocked: Blocked }
  | { readonly kind: "unsupported"; readonly message: string }
  | {
      readonly kind: "waitForVolumes";
      readonly reason: PhysicalCopyReason;
      readonly message: string;
      readonly addFinalizer: boolean;
    }
  | { readonly kind: "startCopy"; readonly volumes: CopyVolumes; readonly addFinalizer: boolean }
  | {
      readonly kind: "pending";
      readonly job: CopyJobObject;
      readonly volumes: CopyVolumes | undefined;
      readonly addFinalizer: boolean;
    }
  | { readonly kind: "exists"; readonly copy: CopyObservation; readonly addFinalizer: boolean }
  | { readonly kind: "gone" }
  | { readonly kind: "halt" | "delete" | "detach"; readonly copy: CopyObservation }
  | { readonly kind: "wait"; readonly ms: number }
  /** Deleting, while a PVC is still being made from the copy: nothing is done until the populator lets go. */
  | { readonly kind: "populating" }
  | { readonly kind: "release"; readonly why: "Retain" | "Absent" | "Independent" }
  | { readonly kind: "none" };

export type PcEngineCall = Extract<PcPlan, { readonly kind: "halt" | "delete" | "detach" }>;

export function isEngineCall(plan: PcPlan): plan is PcEngineCall {
  return plan.kind === "halt" || plan.kind === "delete" || plan.kind === "detach";
}

/** The plans that end with the finalizer off (after their engine call, if any, succeeded). */
export function releases(plan: PcPlan): boolean {
  return plan.kind === "release" || plan.kind === "delete" || plan.kind === "detach";
}

export function addsFinalizer(plan: PcPlan): boolean {
  return "addFinalizer" in plan && plan.addFinalizer;
}

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
  return g.pc.spec.deletionPolicy ?? classOf(g.link)?.spec.deletionPolicy ?? "Delete";
}

export function decidePc(g: PcGathered): PcPlan {
  return isDeleting(g.pc.metadata) ? decideDeletion(g) : decideLife(g);
}

function decideLife(g: PcGathered): PcPlan {
  const { pc, link } = g;
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  const addFinalizer = !hasFinalizer(pc.metadata, copyFinalizer);
  if (link.observed !== undefined) return { kind: "exists", copy: link.observed, addFinalizer };
  if (wasCreated(pc)) return { kind: "gone" };
  const missing = unsupported(pc, link.capabilities);
  if (missing !== undefined) return { kind: "unsupported", message: missing };
  if (g.source !== undefined && !g.source.ok)
    return { kind: "waitForVolumes", reason: g.source.reason, message: g.source.message, addFinalizer };
  if (g.target !== undefined && !g.target.ok)
    return {
      kind: "waitForVolumes",
      reason: targetReason[g.target.reason],
      message: `target: ${g.target.message}`,
      addFinalizer,
    };
  const volumes = volumesOf(g);
  // Two claims (or a claim and a volume name) can resolve to one array volume, which admission cannot see.
  if (volumes !== undefined && volumes.source === volumes.target && g.initialJob === undefined)
    return {
      kind: "waitForVolumes",
      reason: "TargetIsSource",
      message:
        `source and target both resolve to array volume ${volumes.source}: a copy onto its own source would ` +
        `overwrite what it copies; name another target`,
      addFinalizer,
    };
  if (g.initialJob !== undefined) return { kind: "pending", job: g.initialJob, volumes, addFinalizer };
  if (volumes === undefined) throw new Error(`PhysicalCopy ${pc.metadata.name}: volumes were not resolved`);
  return { kind: "startCopy", volumes, addFinalizer };
}

/** The volumes resolved now, else those recorded when they were. */
function volumesOf(g: PcGathered): CopyVolumes | undefined {
  if (g.source?.ok === true && g.target?.ok === true) return { source: g.source.volume, target: g.target.volume };
  const { sourceVolume, targetVolume } = g.pc.status ?? {};
  return sourceVolume !== undefined && targetVolume !== undefined
    ? { source: sourceVolume, target: targetVolume }
    : undefined;
}

/** What the copy asks of the engine that it cannot do, in words; undefined when it can do all of it. */
function unsupported(pc: PhysicalCopyObject, caps: Capabilities): string | undefined {
  if (!caps.physicalCopies) return "the class's engine does not make physical copies";
  if (pc.spec.target.create !== undefined && !caps.onlinePhysicalCopies)
    return "the class's engine cannot create the target (an online copy): name an existing target volume";
  if (pc.spec.saveSnapshot && !caps.resync)
    return "the class's engine cannot keep a copy associated for resync: set saveSnapshot to false";
  return undefined;
}

function decideDeletion(g: PcGathered): PcPlan {
  const { pc, link } = g;
  if (!hasFinalizer(pc.metadata, copyFinalizer)) return { kind: "none" };
  // A PVC is being made from the copy: its bytes must stay until the populator lets go.
  if (hasFinalizer(pc.metadata, populateSourceFinalizer)) return { kind: "populating" };
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  const copy = link.observed;
  if (copy === undefined) {
    // A Copy job still submitting its task could create the copy after we let go: wait for it to settle.
    return submitting(g.initialJob) ? { kind: "wait", ms: 1_000 } : { kind: "release", why: "Absent" };
  }
  if (copy.activeJob !== undefined) return { kind: "halt", copy };
  if (deletionPolicyOf(g) === "Retain") return { kind: "release", why: "Retain" };
  if (copy.online) return { kind: "delete", copy };
  // Only an association (UnSyncAssoc) can be ended: a copy made without saveSnapshot that broke keeps an
  // UnSyncUnAssoc synchronization the array refuses to detach (NON_EXISTENT_VVCOPY), which would strand the finalizer.
  if (copy.synchronization?.copyType === "UnSyncAssoc") return { kind: "detach", copy };
  return { kind: "release", why: "Independent" };
}

/** The initial job has recorded its start intent and no task yet: its create may still land. */
function submitting(job: CopyJobObject | undefined): boolean {
  return job !== undefined && !jobFinished(job) && job.status?.arrayJobId === undefined && startRequested(job);
}
