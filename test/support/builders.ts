// Fixture builders with modifiers (STYLE.md): `virtualCopy("a", withPvc("data"), deleting())`.
import type { CopyObservation } from "../../operator/src/engine/port.ts";
import type { ClassResolution } from "../../operator/src/controllers/shared/classes.ts";
import { copyFinalizer, createIntentAnnotation, type VirtualCopyObject } from "../../operator/src/controllers/shared/objects.ts";

type Mutable<T> = { -readonly [K in keyof T]: Mutable<T[K]> };
type VcMod = (vc: Mutable<VirtualCopyObject>) => void;

export const uid = "3f2a9c1e-7b4d-4e8a-9f10-2b3c4d5e6f70";
export const vcArrayName = "vc-3f2a9c1e7b4d4e8a9f102b3c";

export function virtualCopy(name: string, ...mods: VcMod[]): VirtualCopyObject {
  const vc: Mutable<VirtualCopyObject> = {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "VirtualCopy",
    metadata: { name, namespace: "ns", uid, generation: 1 },
    spec: { source: { volumeName: "data" }, readOnly: true },
  };
  for (const m of mods) m(vc);
  return vc;
}

export const withPvc = (claim: string): VcMod => (vc) => {
  vc.spec.source = { persistentVolumeClaimName: claim };
};
export const withHours = (expirationHours?: number, retentionHours?: number): VcMod => (vc) => {
  if (expirationHours !== undefined) vc.spec.expirationHours = expirationHours;
  if (retentionHours !== undefined) vc.spec.retentionHours = retentionHours;
};
export const withPolicy = (p: "Delete" | "Retain"): VcMod => (vc) => {
  vc.spec.deletionPolicy = p;
};
export const withFinalizer = (): VcMod => (vc) => {
  vc.metadata.finalizers = [...(vc.metadata.finalizers ?? []), copyFinalizer];
};
export const withIntent = (at: Date): VcMod => (vc) => {
  vc.metadata.annotations = { ...vc.metadata.annotations, [createIntentAnnotation]: at.toISOString() };
};
export const deleting = (): VcMod => (vc) => {
  vc.metadata.deletionTimestamp = "2026-11-24T00:00:00Z";
};
/** Status as the operator wrote it once the copy was created. */
export const created = (at: Date, extra: Record<string, unknown> = {}): VcMod => (vc) => {
  vc.status = { ...vc.status, arrayName: vcArrayName, creationTime: at.toISOString().replace(/\.\d+Z$/, "Z"), syncState: "Idle", ...extra };
};
export const readyCondition = (status: "True" | "False", reason: string): VcMod => (vc) => {
  vc.status = {
    ...vc.status,
    conditions: [{ type: "Ready", status, reason, message: "m", lastTransitionTime: "2026-11-24T00:00:00Z", observedGeneration: 1 }],
  };
};

export const embeddedClass: ClassResolution = {
  ok: true,
  cls: { name: "embedded", generation: 1, spec: { driver: "embedded", csiDriver: "csi.hpe.com", deletionPolicy: "Delete" } },
};

export function copyObservation(mods: Partial<CopyObservation> = {}): CopyObservation {
  return {
    name: vcArrayName,
    kind: "Virtual",
    source: "data",
    owner: { namespace: "ns", name: "snap", uid },
    sizeBytes: 1 << 20,
    readOnly: true,
    createdAt: Date.parse("2026-11-24T01:00:00Z"),
    expiresAt: undefined,
    retainedUntil: undefined,
    online: false,
    saveSnapshot: false,
    synchronization: {
      copyType: "UnSyncAssoc",
      replicaType: "AfterDelta",
      syncState: "Idle",
      syncMaintained: false,
      whenSynced: Date.parse("2026-11-24T01:00:00Z"),
      percentSynced: 100,
      copyPriority: "Same",
    },
    contentComplete: true,
    activeJob: undefined,
    lastJob: undefined,
    ...mods,
  };
}
