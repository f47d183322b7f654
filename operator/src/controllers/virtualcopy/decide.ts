// VirtualCopy decisions: a pure function from what was gathered to what to do — at most one engine call, plus
// the finalizer patches around it.
//
// Invariants:
// - Nothing is created on the array before the finalizer and (on an engine whose creates may land late) the create
//   intent are on the object.
// - A copy that existed (status.creationTime) and is gone is never created again: a new snapshot would be a
//   different point in time. It is reported Expired or Lost instead.
// - On deletion with policy Delete the finalizer goes only once the array object is gone, and not while a
//   create whose outcome was never confirmed is recent enough to still land (the uncertainty window).
import type { Capabilities, CopyObservation, CreateVirtualCopyRequest } from "../../engine/port.ts";
import { findCondition } from "../../kube/conditions.ts";
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import { classOf, type Blocked, type Link } from "../shared/connect.ts";
import { arrayName, ownerTag } from "../shared/naming.ts";
import {
  copyFinalizer,
  populateSourceFinalizer,
  createIntentAnnotation,
  intentTime,
  type VirtualCopyObject,
} from "../shared/objects.ts";
import type { SourceReason, VolumeResolution } from "../shared/sources.ts";

/** How long after a create was requested its outcome may still be uncertain (a request that timed out). */
export const uncertaintyWindowMs = 2 * 60_000;

export interface Gathered {
  readonly vc: VirtualCopyObject;
  readonly now: number;
  /** Class → engine → what the array holds under our name (undefined: nothing of ours). */
  readonly link: Link<CopyObservation | undefined>;
  /** Looked up only while the copy still has to be created. */
  readonly source?: VolumeResolution | undefined;
}

/**
 * One step, with the reason it was chosen. Creation: blocked (no class, engine or answer), unsupported (the
 * engine cannot make this copy), waitForSource, create, exists (observed on the array), gone (created once and no
 * longer there: never made again). Deletion: blocked, delete then release, wait (an uncertain create), release.
 */
export type Plan =
  | { readonly kind: "blocked"; readonly blocked: Blocked }
  | { readonly kind: "unsupported"; readonly message: string }
  | {
      readonly kind: "waitForSource";
      readonly reason: SourceReason;
      readonly message: string;
      readonly addFinalizer: boolean;
    }
  | {
      readonly kind: "create";
      readonly request: CreateVirtualCopyRequest;
      /** Add the finalizer and record the create intent, in one patch, before the call. */
      readonly addFinalizer: boolean;
      readonly recordIntent: boolean;
    }
  | { readonly kind: "exists"; readonly copy: CopyObservation }
  | { readonly kind: "gone"; readonly expired: boolean }
  | { readonly kind: "delete"; readonly copy: CopyObservation }
  | { readonly kind: "wait"; readonly ms: number }
  | { readonly kind: "release"; readonly why: "Retain" | "Absent" }
  /** Deleting, while a PVC is still being made from the copy: nothing is done until the populator lets go. */
  | { readonly kind: "populating" }
  /** Deleting, and the finalizer is not ours (any more): nothing to do. */
  | { readonly kind: "none" };

/** The plans that end with the finalizer off (after their engine call, if any, succeeded). */
export function releases(plan: Plan): boolean {
  return plan.kind === "release" || plan.kind === "delete";
}

export function arrayNameOf(vc: VirtualCopyObject): string {
  return arrayName("vc", vc.metadata.uid);
}

export function deletionPolicyOf(g: Gathered): "Delete" | "Retain" {
  return g.vc.spec.deletionPolicy ?? classOf(g.link)?.spec.deletionPolicy ?? "Delete";
}

/** True once the array object was seen created (creation is then certain, and a later absence means loss). */
export function wasCreated(vc: VirtualCopyObject): boolean {
  return vc.status?.creationTime !== undefined;
}

export function decide(g: Gathered): Plan {
  return isDeleting(g.vc.metadata) ? decideDeletion(g) : decideCreation(g);
}

function decideCreation(g: Gathered): Plan {
  const { vc, link } = g;
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  if (link.observed !== undefined) return { kind: "exists", copy: link.observed };
  if (wasCreated(vc)) {
    const expires = vc.status?.expirationTime;
    return { kind: "gone", expired: expires !== undefined && Date.parse(expires) <= g.now };
  }
  const missing = unsupported(vc, link.capabilities);
  if (missing !== undefined) return { kind: "unsupported", message: missing };
  const addFinalizer = !hasFinalizer(vc.metadata, copyFinalizer);
  const source = g.source;
  // gather resolves the source whenever the copy is still to be made; its absence here is a bug, not a state.
  if (source === undefined) throw new Error(`VirtualCopy ${vc.metadata.name}: source was not resolved`);
  if (!source.ok) return { kind: "waitForSource", reason: source.reason, message: source.message, addFinalizer };
  // The intent bounds how long a deletion waits for a create that may still land; an engine whose creates cannot
  // land late (the embedded one) needs none, and the copy goes Ready without a metadata write.
  const recordIntent =
    link.capabilities.createsMayLandLate && vc.metadata.annotations?.[createIntentAnnotation] === undefined;
  const request: CreateVirtualCopyRequest = {
    name: arrayNameOf(vc),
    source: source.volume,
    readOnly: vc.spec.readOnly,
    owner: ownerTag(vc.metadata),
    ...(vc.spec.expirationHours === undefined ? {} : { expirationHours: vc.spec.expirationHours }),
    ...(vc.spec.retentionHours === undefined ? {} : { retentionHours: vc.spec.retentionHours }),
  };
  return { kind: "create", request, addFinalizer, recordIntent };
}

/** What the copy asks of the engine that it cannot do, in words; undefined when it can do all of it. */
function unsupported(vc: VirtualCopyObject, caps: Capabilities): string | undefined {
  if (!caps.virtualCopies) return "the class's engine does not make virtual copies";
  if (vc.spec.expirationHours !== undefined && !caps.expiration)
    return "the class's engine cannot expire copies: remove spec.expirationHours";
  if (vc.spec.retentionHours !== undefined && !caps.retention)
    return "the class's engine cannot retain copies: remove spec.retentionHours";
  if (arrayNameOf(vc).length > caps.maxNameLength)
    return `the class's engine takes names of at most ${caps.maxNameLength} characters`;
  return undefined;
}

function decideDeletion(g: Gathered): Plan {
  const { vc, link } = g;
  if (!hasFinalizer(vc.metadata, copyFinalizer)) return { kind: "none" };
  // A PVC is being made from the copy: its bytes must stay until the populator lets go.
  if (hasFinalizer(vc.metadata, populateSourceFinalizer)) return { kind: "populating" };
  if (deletionPolicyOf(g) === "Retain") return { kind: "release", why: "Retain" };
  // Without an engine we cannot know whether the array object exists: keep the finalizer (never leak).
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  if (link.observed !== undefined) return { kind: "delete", copy: link.observed };
  const ms = uncertainRemainingMs(g);
  return ms > 0 ? { kind: "wait", ms } : { kind: "release", why: "Absent" };
}

/** Milliseconds left before an unconfirmed create can no longer land; 0 when none is pending. */
function uncertainRemainingMs(g: Gathered): number {
  if (wasCreated(g.vc) || refusedForGood(g.vc)) return 0;
  const requested = intentTime(g.vc.metadata, createIntentAnnotation);
  if (requested === undefined) return 0;
  return Math.max(0, requested + uncertaintyWindowMs - g.now);
}

/** Ready reasons that say the array refused the create for good: nothing was created. */
const finalCreateRefusals: ReadonlySet<string> = new Set(["NameTaken", "ArrayRefused"]);

function refusedForGood(vc: VirtualCopyObject): boolean {
  const ready = findCondition(vc.status?.conditions, "Ready");
  return ready !== undefined && finalCreateRefusals.has(ready.reason);
}
