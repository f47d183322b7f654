// Populator decisions: a pure function from what was gathered for one claim (a user's PVC whose dataSourceRef
// names a VirtualCopy or PhysicalCopy) to the one step to take now. The flow, as Kubernetes volume populators do it
// (KEP-1495; lib-volume-populator's state machine, written anew here):
//
//   validate → [WaitForFirstConsumer: wait for the scheduler's selected node] → start (finalizers, token Secret,
//   PVC′, grant, pod) → the pod writes PVC′'s device → rebind (PVC′'s PV to the claim; for a Filesystem claim a
//   Filesystem PV for the same CSI volume) → the PV controller binds the claim → finish (clean up, Populated)
//
// That is the data path. The array clone (strategy.ts) replaces the token, pod and writing with: the array copies
// the copy into a volume of ours → PVC′ asks the CSI driver to import it → PVC′ is Bound → the same rebind and finish.
//
// Invariants:
// - Bad input starts nothing: no finalizer, no object; the claim gets a Warning naming the problem and is retried.
// - Nothing is made before the claim's finalizer is on it, so a claim deleted midway still gets its PVC′, pod and
//   Secret cleaned up; the copy carries its own finalizer for as long as a claim is being populated from it.
// - A failed populator pod is replaced after a growing backoff, never in a hot loop; a pod that points at a source
//   that is no longer ours — another address (an earlier leader's) or another certificate (this replica before it
//   restarted) — is replaced at once, and resumes by comparing chunks.
// - An array clone of ours counts as something made for the claim: a claim deleted midway has it removed, unless
//   a PV holds it already (then the CSI driver owns it and deletes it with that PV).
import type { V1PersistentVolume, V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import { hasFinalizer, isDeleting, type FinalizerMeta } from "../../kube/finalizers.ts";
import {
  attemptsAnnotation,
  claimFinalizer,
  populatedFromAnnotation,
  selectedNodeAnnotation,
  sourceAnnotation,
  sourceIdentity,
  type ClaimRef,
  type CopyKind,
  type DataPathSource,
} from "./objects.ts";
import type { VolumeResolution } from "../shared/sources.ts";
import { cloneStep, isOwnClone, strategyOf, type CloneView } from "./strategy.ts";

export const retryAtAnnotation = "arraycopy.io/populate-retry-at";

export interface CopyView {
  readonly kind: CopyKind;
  readonly name: string;
  readonly uid: string;
  readonly ready: boolean;
  /** The Ready condition's reason and message, for a copy that is not Ready. */
  readonly why: string;
  readonly deleting: boolean;
  readonly sizeBytes: number | undefined;
  /** The array volume holding the copy's bytes (a virtual copy's own volume, a physical copy's target). */
  readonly volume: string | undefined;
}

export type EngineView =
  | {
      readonly ok: true;
      readonly className: string;
      readonly readsVolumes: boolean;
      /** The engine makes volumes (online physical copies) that its CSI driver imports: capability csiImport. */
      readonly csiImport: boolean;
      /** The CSI driver of the class (CopyClass spec.csiDriver). */
      readonly csiDriver: string;
    }
  | { readonly ok: false; readonly message: string };

export type StorageClassView =
  | {
      readonly name: string;
      readonly provisioner: string;
      readonly waitForConsumer: boolean;
      readonly reclaimPolicy: string;
      readonly fsType: string;
      readonly mountOptions: readonly string[] | undefined;
      /** A CSIDriver object of the provisioner's name exists: it serves Block volumes through CSI. */
      readonly csi: boolean;
      /** The parameters a PVC may override by annotation (HPE CSI's allowOverrides). */
      readonly overrides: readonly string[];
    }
  | { readonly missing: string };

export interface Settings {
  /** The image of the populator pod; undefined when this operator was started without one. */
  readonly image: string | undefined;
  readonly namespace: string;
  /** Where populator pods reach this replica's data path, and the certificate they pin. */
  readonly source: DataPathSource;
}

export interface Gathered {
  readonly claim: V1PersistentVolumeClaim;
  readonly ref: ClaimRef;
  readonly now: number;
  readonly settings: Settings;
  /** The copy the claim names, parsed from dataSourceRef (undefined: not ours). */
  readonly source: { readonly kind: CopyKind; readonly name: string; readonly namespace?: string } | undefined;
  readonly copy?: CopyView | undefined;
  readonly engine?: EngineView | undefined;
  readonly storageClass?: StorageClassView | undefined;
  readonly prime?: V1PersistentVolumeClaim | undefined;
  readonly primePv?: V1PersistentVolume | undefined;
  /** The Filesystem PV made for the claim (pvc-<claim uid>), once made. */
  readonly fsPv?: V1PersistentVolume | undefined;
  readonly pod?: V1Pod | undefined;
  readonly secret: boolean;
  /** The array clone under the claim's clone name, when the engine can make one (capability csiImport). */
  readonly clone?: CloneView | undefined;
  /**
   * Array clone, once PVC′ is bound to its PV: that PV's array volume, resolved as a PVC source's is (the class's
   * handle rule, confirmed on the array) — the volume the driver's import left.
   */
  readonly imported?: VolumeResolution | undefined;
}

/** Warnings for bad input, each naming what to fix. */
export type RefusalReason =
  | "PopulatorDisabled"
  | "CrossNamespaceCopy"
  | "CopyNotFound"
  | "CopyNotReady"
  | "ClassUnusable"
  | "NoPopulateStrategy"
  | "ClaimTooSmall"
  | "ClaimTooLarge"
  | "UnsupportedAccessMode"
  | "UnsupportedVolumeMode"
  | "StorageClassNotFound";

export type Plan =
  | { readonly kind: "ignore" }
  | { readonly kind: "refuse"; readonly reason: RefusalReason; readonly message: string }
  | { readonly kind: "wait"; readonly message: string; readonly ms: number }
  | { readonly kind: "start"; readonly node: string | undefined; readonly copy: CopyView }
  | { readonly kind: "replacePod"; readonly failure: string | undefined; readonly attempts: number }
  | { readonly kind: "startClone"; readonly copy: CopyView }
  | { readonly kind: "importClone"; readonly node: string | undefined }
  /** `remove`: the failed clone is ours and no PV holds it; it is deleted before the next attempt. */
  | { readonly kind: "cloneFailed"; readonly failure: string; readonly remove: boolean }
  /**
   * claimRef: PVC′'s PV is bound ahead to the claim; filesystemPv: a Filesystem PV for the same CSI volume is made
   * for the claim (the data path's Block PVC′ for a Filesystem claim).
   */
  | {
      readonly kind: "rebind";
      readonly handoff: "claimRef" | "filesystemPv";
      readonly pv: V1PersistentVolume;
      /** Array clone: the array volume the PV holds (annotated on it for people). */
      readonly volume?: string;
    }
  | { readonly kind: "finish"; readonly volume: string }
  | { readonly kind: "cleanup"; readonly why: string };

const waitMs = 30_000;

/** Backoff before populator pod attempt n+1: 10 s doubling, at most 5 minutes. */
export function retryDelayMs(attempts: number): number {
  return Math.min(10_000 * 2 ** Math.max(0, attempts - 1), 300_000);
}

const gib = 1024 ** 3;
const units: Readonly<Record<string, number>> = {
  "": 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  Ki: 1024,
  Mi: 1024 ** 2,
  Gi: gib,
  Ti: 1024 * gib,
  Pi: 1024 ** 2 * gib,
};

/** A resource quantity of storage in bytes (the suffixes a PVC's size uses); undefined when it is not one. */
export function quantityBytes(q: string | undefined): number | undefined {
  const m = /^(\d+(?:\.\d+)?)([kMGTP]i?|)$/.exec(q ?? "");
  const unit = m?.[2] === undefined ? undefined : units[m[2]];
  return m?.[1] === undefined || unit === undefined ? undefined : Math.ceil(Number(m[1]) * unit);
}

/** What a claim's dataSourceRef names, when it is one of our copies. */
export function copySourceOf(claim: V1PersistentVolumeClaim): Gathered["source"] {
  const ref = claim.spec?.dataSourceRef;
  if (ref?.apiGroup !== "arraycopy.io" || (ref.kind !== "VirtualCopy" && ref.kind !== "PhysicalCopy")) return undefined;
  return { kind: ref.kind, name: ref.name, ...(ref.namespace === undefined ? {} : { namespace: ref.namespace }) };
}

export function decide(g: Gathered): Plan {
  const { claim } = g;
  const inProgress = hasFinalizer(claimMeta(claim), claimFinalizer);
  // A clone of ours is left over only until it is handed over: then it is the claim's volume.
  const handedOver = claim.metadata?.annotations?.[populatedFromAnnotation] !== undefined;
  const leftClone = isOwnClone(g.clone) && !handedOver;
  const leftovers = g.prime !== undefined || g.pod !== undefined || g.secret || leftClone;
  if (g.source === undefined)
    return inProgress || leftovers ? { kind: "cleanup", why: "not ours" } : { kind: "ignore" };
  if (isDeleting(claimMeta(claim)))
    return inProgress || leftovers ? { kind: "cleanup", why: "the claim is being deleted" } : { kind: "ignore" };
  const volumeName = claim.spec?.volumeName;
  if (volumeName !== undefined && volumeName !== "") return bound(g, volumeName, inProgress || leftovers);
  const rebound = g.fsPv ?? (g.primePv?.spec?.claimRef?.uid === g.ref.uid ? g.primePv : undefined);
  if (rebound !== undefined && inProgress)
    return { kind: "wait", message: `waiting for the PV controller to bind ${rebound.metadata?.name}`, ms: 5_000 };

  const refusal = validate(g, inProgress);
  if (refusal !== undefined) return refusal;
  const copy = g.copy as CopyView;
  const sc = g.storageClass as Exclude<StorageClassView, { missing: string }>;
  const node = claim.metadata?.annotations?.[selectedNodeAnnotation];
  if (sc.waitForConsumer && node === undefined && g.prime === undefined)
    return {
      kind: "wait",
      message: "waiting for a pod that uses the PVC to be scheduled (WaitForFirstConsumer)",
      ms: waitMs,
    };

  const engine = g.engine as Extract<EngineView, { ok: true }>;
  const chosen = strategyOf(engine, sc);
  if ("strategy" in chosen && chosen.strategy === "arrayClone")
    return cloneStep(g, copy, g.prime?.metadata?.annotations?.[selectedNodeAnnotation] ?? node, engine.csiDriver);

  const attempts = Number(g.prime?.metadata?.annotations?.[attemptsAnnotation] ?? "0");
  if (g.pod === undefined) {
    const retryAt = Date.parse(g.prime?.metadata?.annotations?.[retryAtAnnotation] ?? "");
    if (Number.isFinite(retryAt) && retryAt > g.now)
      return { kind: "wait", message: `retrying the populator after attempt ${attempts}`, ms: retryAt - g.now };
    return { kind: "start", node: g.prime?.metadata?.annotations?.[selectedNodeAnnotation] ?? node, copy };
  }
  if (g.pod.metadata?.annotations?.[sourceAnnotation] !== sourceIdentity(g.settings.source))
    return { kind: "replacePod", failure: undefined, attempts };
  const phase = g.pod.status?.phase;
  if (phase === "Failed") return { kind: "replacePod", failure: terminationMessage(g.pod), attempts: attempts + 1 };
  if (phase !== "Succeeded") return { kind: "wait", message: "the populator pod is writing the volume", ms: waitMs };
  // Written: hand the volume to the claim.
  if (g.primePv === undefined) return { kind: "wait", message: "waiting for PVC′'s volume", ms: 5_000 };
  return { kind: "rebind", handoff: claim.spec?.volumeMode === "Block" ? "claimRef" : "filesystemPv", pv: g.primePv };
}

function bound(g: Gathered, volumeName: string, ours: boolean): Plan {
  if (!ours) return { kind: "ignore" };
  if (g.claim.status?.phase !== "Bound")
    return { kind: "wait", message: `waiting for the PV controller to bind ${volumeName}`, ms: 5_000 };
  const populated =
    (g.fsPv?.metadata?.name === volumeName && g.fsPv.metadata.annotations?.[populatedFromAnnotation] !== undefined) ||
    (g.primePv?.metadata?.name === volumeName && g.primePv.spec?.claimRef?.uid === g.ref.uid);
  return populated || g.claim.metadata?.annotations?.[populatedFromAnnotation] !== undefined
    ? { kind: "finish", volume: volumeName }
    : { kind: "cleanup", why: `the claim was bound to ${volumeName}, which the populator did not make` };
}

function validate(g: Gathered, inProgress: boolean): Plan | undefined {
  const refuse = (reason: RefusalReason, message: string): Plan => ({ kind: "refuse", reason, message });
  const src = g.source;
  if (src === undefined) return undefined;
  const what = `${src.kind} ${src.name}`;
  if (src.namespace !== undefined && src.namespace !== g.ref.namespace)
    return refuse(
      "CrossNamespaceCopy",
      `dataSourceRef names ${what} in namespace ${src.namespace}: a PVC can be made only from a copy in its own ` +
        `namespace (${g.ref.namespace})`,
    );
  const copy = g.copy;
  if (copy === undefined) return refuse("CopyNotFound", `${what} does not exist in namespace ${g.ref.namespace}`);
  if (copy.deleting && !inProgress) return refuse("CopyNotReady", `${what} is being deleted`);
  if (!copy.ready && !inProgress) return refuse("CopyNotReady", `${what} is not Ready (${copy.why})`);
  const engine = g.engine;
  if (engine === undefined || !engine.ok) return refuse("ClassUnusable", engine?.message ?? `${what} has no class`);
  const sc = g.storageClass;
  if (sc === undefined || "missing" in sc) return refuse("StorageClassNotFound", sc?.missing ?? "no StorageClass");
  const chosen = strategyOf(engine, sc);
  if ("refusal" in chosen) return refuse("NoPopulateStrategy", chosen.refusal);
  if (chosen.strategy === "dataPath" && g.settings.image === undefined)
    return refuse(
      "PopulatorDisabled",
      "this operator runs without a populator image (--populator-image), so it cannot stream copies into PVCs",
    );
  const requested = quantityBytes(g.claim.spec?.resources?.requests?.["storage"]);
  if (copy.sizeBytes === undefined || copy.volume === undefined)
    return refuse("CopyNotReady", `${what} does not report its size and volume yet`);
  if (requested === undefined || requested < copy.sizeBytes)
    return refuse(
      "ClaimTooSmall",
      `the PVC requests ${g.claim.spec?.resources?.requests?.["storage"] ?? "no storage"} but ${what} holds ` +
        `${copy.sizeBytes} bytes: request at least that (resources.requests.storage)`,
    );
  if (chosen.strategy === "arrayClone") {
    if (requested > copy.sizeBytes)
      return refuse(
        "ClaimTooLarge",
        `the PVC requests ${g.claim.spec?.resources?.requests?.["storage"] ?? ""} but the array clone of ${what} is ` +
          `the copy's size, ${copy.sizeBytes} bytes, and ${sc.provisioner} imports a volume at its own size: ` +
          "request exactly that (resources.requests.storage), and grow the PVC once it is Bound",
      );
    return undefined;
  }
  const modes = g.claim.spec?.accessModes ?? [];
  if (modes.length > 0 && modes.every((m) => m === "ReadOnlyMany"))
    return refuse(
      "UnsupportedAccessMode",
      "accessModes is only ReadOnlyMany, but the populator has to write the volume: ask for ReadWriteOnce too",
    );
  if (!sc.csi)
    return refuse(
      "UnsupportedVolumeMode",
      `StorageClass ${sc.name} (provisioner ${sc.provisioner}) is not served by a CSI driver: the populator writes ` +
        "a Block volume and, for a Filesystem PVC, hands the same CSI volume over in Filesystem mode",
    );
  return undefined;
}

function claimMeta(claim: V1PersistentVolumeClaim): FinalizerMeta {
  return claim.metadata ?? {};
}

/** What the populator pod wrote to its termination log, or how it ended. */
export function terminationMessage(pod: V1Pod): string {
  const state = pod.status?.containerStatuses?.[0]?.state?.terminated;
  const text = state?.message?.trim();
  if (text !== undefined && text !== "") return text;
  if (state !== undefined) return `exited ${state.exitCode}${state.reason === undefined ? "" : ` (${state.reason})`}`;
  return pod.status?.message ?? pod.status?.reason ?? "the populator pod failed";
}
