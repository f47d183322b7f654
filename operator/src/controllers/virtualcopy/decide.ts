// VirtualCopy decisions: a pure function from what was gathered to what to do — at most one engine call, plus
// the finalizer patches around it.
//
// Invariants:
// - Nothing is created on the array before the finalizer and the create intent are on the object.
// - A copy that existed (status.creationTime) and is gone is never created again: a new snapshot would be a
//   different point in time. It is reported Expired or Lost instead.
// - On deletion with policy Delete the finalizer goes only once the array object is gone, and not while a
//   create whose outcome was never confirmed is recent enough to still land (the uncertainty window).
import type { CopyObservation, CreateVirtualCopyRequest } from "../../engine/port.ts";
import type { EngineError } from "../../engine/errors.ts";
import { findCondition } from "../../kube/conditions.ts";
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import type { ClassResolution } from "../shared/classes.ts";
import { arrayName, ownerTag } from "../shared/naming.ts";
import { copyFinalizer, createIntentAnnotation, type VirtualCopyObject } from "../shared/objects.ts";
import type { VolumeResolution } from "../shared/sources.ts";

/** How long after a create was requested its outcome may still be uncertain (a request that timed out). */
export const uncertaintyWindowMs = 2 * 60_000;

export interface Gathered {
  readonly vc: VirtualCopyObject;
  readonly now: number;
  readonly cls: ClassResolution;
  /** The class resolved but no engine could be built for it. */
  readonly engineError?: string | undefined;
  /** Looked up only while the copy still has to be created. */
  readonly source?: VolumeResolution | undefined;
  /** What the array holds under our name; undefined when absent, or when observing failed (observeError). */
  readonly observed?: CopyObservation | undefined;
  readonly observeError?: EngineError | undefined;
}

export type EngineCall =
  | { readonly kind: "create"; readonly request: CreateVirtualCopyRequest }
  | { readonly kind: "delete"; readonly name: string };

export interface Plan {
  /** Add the finalizer, before any engine call. */
  readonly addFinalizer: boolean;
  /** Record the create intent (with the finalizer, in one patch) right before the create call. */
  readonly recordIntent: boolean;
  readonly engine: EngineCall | undefined;
  /** Remove the finalizer (after the engine call, if any, succeeded). */
  readonly removeFinalizer: boolean;
  /** Deletion waits this long for an uncertain create to settle before it lets the resource go. */
  readonly waitMs: number | undefined;
}

const nothing: Plan = {
  addFinalizer: false,
  recordIntent: false,
  engine: undefined,
  removeFinalizer: false,
  waitMs: undefined,
};

export function arrayNameOf(vc: VirtualCopyObject): string {
  return arrayName("vc", vc.metadata.uid);
}

export function deletionPolicyOf(g: Gathered): "Delete" | "Retain" {
  return g.vc.spec.deletionPolicy ?? (g.cls.ok ? g.cls.cls.spec.deletionPolicy : "Delete");
}

/** True once the array object was seen created (creation is then certain, and a later absence means loss). */
export function wasCreated(vc: VirtualCopyObject): boolean {
  return vc.status?.creationTime !== undefined;
}

export function decide(g: Gathered): Plan {
  return isDeleting(g.vc.metadata) ? decideDeletion(g) : decideCreation(g);
}

function decideCreation(g: Gathered): Plan {
  const { vc } = g;
  if (!g.cls.ok || g.engineError !== undefined || g.observeError !== undefined) return nothing;
  if (g.observed !== undefined || wasCreated(vc)) return nothing;
  const addFinalizer = !hasFinalizer(vc.metadata, copyFinalizer);
  if (g.source?.ok !== true) return { ...nothing, addFinalizer };
  const recordIntent = vc.metadata.annotations?.[createIntentAnnotation] === undefined;
  const request: CreateVirtualCopyRequest = {
    name: arrayNameOf(vc),
    source: g.source.volume,
    readOnly: vc.spec.readOnly,
    owner: ownerTag(vc.metadata),
    ...(vc.spec.expirationHours === undefined ? {} : { expirationHours: vc.spec.expirationHours }),
    ...(vc.spec.retentionHours === undefined ? {} : { retentionHours: vc.spec.retentionHours }),
  };
  return { ...nothing, addFinalizer, recordIntent, engine: { kind: "create", request } };
}

function decideDeletion(g: Gathered): Plan {
  const { vc } = g;
  if (!hasFinalizer(vc.metadata, copyFinalizer)) return nothing;
  if (deletionPolicyOf(g) === "Retain") return { ...nothing, removeFinalizer: true };
  // Without an engine we cannot know whether the array object exists: keep the finalizer (never leak).
  if (!g.cls.ok || g.engineError !== undefined || g.observeError !== undefined) return nothing;
  if (g.observed !== undefined)
    return { ...nothing, engine: { kind: "delete", name: g.observed.name }, removeFinalizer: true };
  const waitMs = uncertainRemainingMs(g);
  if (waitMs > 0) return { ...nothing, waitMs };
  return { ...nothing, removeFinalizer: true };
}

/** Milliseconds left before an unconfirmed create can no longer land; 0 when none is pending. */
function uncertainRemainingMs(g: Gathered): number {
  if (wasCreated(g.vc) || refusedForGood(g.vc)) return 0;
  const at = g.vc.metadata.annotations?.[createIntentAnnotation];
  if (at === undefined) return 0;
  const requested = Date.parse(at);
  if (Number.isNaN(requested)) return 0;
  return Math.max(0, requested + uncertaintyWindowMs - g.now);
}

/** Ready reasons that say the array refused the create for good: nothing was created. */
const finalCreateRefusals: ReadonlySet<string> = new Set(["NameTaken", "ArrayRefused"]);

function refusedForGood(vc: VirtualCopyObject): boolean {
  const ready = findCondition(vc.status?.conditions, "Ready");
  return ready !== undefined && finalCreateRefusals.has(ready.reason);
}
