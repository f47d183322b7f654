// Fixture builders with modifiers (STYLE.md): `virtualCopy("a", withPvc("data"), deleting())`.
import type { Capabilities, CopyObservation, JobObservation } from "../../operator/src/engine/port.ts";
import { EngineError } from "../../operator/src/engine/errors.ts";
import type { ClassResolution } from "../../operator/src/controllers/shared/classes.ts";
import type { Blocked, Link } from "../../operator/src/controllers/shared/connect.ts";
import {
  copyFinalizer,
  createIntentAnnotation,
  startIntentAnnotation,
  type CopyJobObject,
  type CopyScheduleObject,
  type PhysicalCopyObject,
  type VirtualCopyObject,
} from "../../operator/src/controllers/shared/objects.ts";

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

export const withPvc =
  (claim: string): VcMod =>
  (vc) => {
    vc.spec.source = { persistentVolumeClaimName: claim };
  };
export const withHours =
  (expirationHours?: number, retentionHours?: number): VcMod =>
  (vc) => {
    if (expirationHours !== undefined) vc.spec.expirationHours = expirationHours;
    if (retentionHours !== undefined) vc.spec.retentionHours = retentionHours;
  };
export const withPolicy =
  (p: "Delete" | "Retain"): VcMod =>
  (vc) => {
    vc.spec.deletionPolicy = p;
  };
export const withFinalizer = (): VcMod => (vc) => {
  vc.metadata.finalizers = [...(vc.metadata.finalizers ?? []), copyFinalizer];
};
export const withIntent =
  (at: Date): VcMod =>
  (vc) => {
    vc.metadata.annotations = { ...vc.metadata.annotations, [createIntentAnnotation]: at.toISOString() };
  };
export const deleting = (): VcMod => (vc) => {
  vc.metadata.deletionTimestamp = "2026-11-24T00:00:00Z";
};
/** Status as the operator wrote it once the copy was created. */
export const created =
  (at: Date, extra: Record<string, unknown> = {}): VcMod =>
  (vc) => {
    vc.status = {
      ...vc.status,
      arrayName: vcArrayName,
      creationTime: at.toISOString().replace(/\.\d+Z$/, "Z"),
      syncState: "Idle",
      ...extra,
    };
  };
export const readyCondition =
  (status: "True" | "False", reason: string): VcMod =>
  (vc) => {
    vc.status = {
      ...vc.status,
      conditions: [
        {
          type: "Ready",
          status,
          reason,
          message: "m",
          lastTransitionTime: "2026-11-24T00:00:00Z",
          observedGeneration: 1,
        },
      ],
    };
  };

export const embeddedClass: ClassResolution = {
  ok: true,
  cls: {
    name: "embedded",
    generation: 1,
    spec: { driver: "embedded", csiDriver: "csi.hpe.com", deletionPolicy: "Delete" },
  },
};

/** What the embedded engine can do: everything. */
export const allCapabilities: Capabilities = {
  virtualCopies: true,
  physicalCopies: true,
  onlinePhysicalCopies: true,
  resync: true,
  restore: true,
  expiration: true,
  retention: true,
  maxConcurrentPhysicalCopies: 2,
  maxNameLength: 31,
  indications: true,
  volumes: true,
  groupVirtualCopies: true,
  csiImport: true,
  csiVolumeHandle: "ArrayVolumeName",
  createsMayLandLate: true,
};

/** A link to the embedded class's engine that observed `observed`; `caps` takes capabilities away. */
export function linked<O>(observed: O, caps: Partial<Capabilities> = {}): Link<O> {
  if (!embeddedClass.ok) throw new Error("unreachable");
  return { ok: true, cls: embeddedClass.cls, capabilities: { ...allCapabilities, ...caps }, observed };
}

/** A link blocked at one step: no class, an unusable class, or an array that did not answer (with `error`). */
export function blockedAt(
  reason: Blocked["reason"],
  message = "m",
  error: EngineError = new EngineError(message, { code: "Unavailable", kind: "retryable" }),
): Link<never> {
  if (!embeddedClass.ok) throw new Error("unreachable");
  const cls = embeddedClass.cls;
  switch (reason) {
    case "ClassNotFound":
    case "NoDefaultClass":
      return { ok: false, blocked: { reason, message } };
    case "ClassUnusable":
      return { ok: false, blocked: { reason, message, cls } };
    case "ArrayUnavailable":
      return { ok: false, blocked: { reason, message: error.message, cls, error } };
  }
}

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

type PcMod = (pc: Mutable<PhysicalCopyObject>) => void;

/** A PhysicalCopy of array volume "data" onto the existing volume "test-env", with saveSnapshot. */
export function physicalCopy(name: string, ...mods: PcMod[]): PhysicalCopyObject {
  const pc: Mutable<PhysicalCopyObject> = {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "PhysicalCopy",
    metadata: { name, namespace: "ns", uid, generation: 1 },
    spec: { source: { volumeName: "data" }, target: { volumeName: "test-env" }, saveSnapshot: true },
  };
  for (const m of mods) m(pc);
  return pc;
}

export const pcWithFinalizer = (): PcMod => (pc) => {
  pc.metadata.finalizers = [...(pc.metadata.finalizers ?? []), copyFinalizer];
};
export const pcDeleting = (): PcMod => (pc) => {
  pc.metadata.deletionTimestamp = "2026-11-24T00:00:00Z";
};
export const pcUnassociated = (): PcMod => (pc) => {
  pc.spec.saveSnapshot = false;
};
/** Status as the operator wrote it once the source and target resolved. */
export const pcResolved = (): PcMod => (pc) => {
  pc.status = { ...pc.status, sourceVolume: "data", targetVolume: "test-env" };
};

/** What the array shows for a physical copy onto "test-env" in `syncState` (undefined: no association). */
export function physicalObservation(
  syncState: NonNullable<CopyObservation["synchronization"]>["syncState"] | undefined,
  mods: Partial<CopyObservation> = {},
): CopyObservation {
  return copyObservation({
    name: "test-env",
    kind: "Physical",
    readOnly: false,
    saveSnapshot: true,
    owner: { namespace: "ns", name: "copy", uid },
    synchronization:
      syncState === undefined
        ? undefined
        : {
            copyType: "UnSyncAssoc",
            replicaType: "FullCopy",
            syncState,
            syncMaintained: false,
            whenSynced: Date.parse("2026-11-24T01:00:00Z"),
            percentSynced: syncState === "Frozen" ? 100 : 40,
            copyPriority: "Same",
          },
    ...mods,
  });
}

export type JobMod = (job: Mutable<CopyJobObject>) => void;

/** A CopyJob running `operation` on the PhysicalCopy "copy" (a VirtualCopy for Restore). */
export function copyJob(name: string, operation: CopyJobObject["spec"]["operation"], ...mods: JobMod[]): CopyJobObject {
  const job: Mutable<CopyJobObject> = {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "CopyJob",
    metadata: { name, namespace: "ns", uid: `${uid}-job`, generation: 1 },
    spec: {
      copyRef: { kind: operation === "Restore" ? "VirtualCopy" : "PhysicalCopy", name: "copy" },
      operation,
      requestedState: "Start",
    },
  };
  for (const m of mods) m(job);
  return job;
}

/** The start intent recorded before the task was submitted and, with `id`, the status once it started. */
export const jobSubmitted =
  (id?: string): JobMod =>
  (job) => {
    job.metadata.annotations = { ...job.metadata.annotations, [startIntentAnnotation]: "2026-11-24T01:00:00Z" };
    if (id !== undefined) {
      job.status = {
        ...job.status,
        jobState: "Running",
        timeSubmitted: "2026-11-24T01:00:00Z",
        percentComplete: 0,
        arrayJobId: id,
      };
    }
  };
/** The initial copy's job, as the PhysicalCopy controller makes it: the volumes in its spec. */
export const copyVolumes =
  (source = "data", target = "test-env"): JobMod =>
  (job) => {
    job.spec.volumes = { source, target };
  };

/** The array's task for a job. */
export function jobObservation(mods: Partial<JobObservation> = {}): JobObservation {
  return {
    id: "7",
    operation: "Resync",
    copy: "test-env",
    priority: "Same",
    jobState: "Running",
    operationalStatus: ["OK"],
    percentComplete: 40,
    errorCode: 0,
    errorDescription: "",
    timeSubmitted: Date.parse("2026-11-24T01:00:00Z"),
    startTime: Date.parse("2026-11-24T01:00:01Z"),
    endTime: undefined,
    ...mods,
  };
}

type ScheduleMod = (s: Mutable<CopyScheduleObject>) => void;

/** A CopySchedule of a nightly (02:00 UTC) virtual copy of array volume "data", created 2025-01-01T00:00Z. */
export function copySchedule(name: string, ...mods: ScheduleMod[]): CopyScheduleObject {
  const s: Mutable<CopyScheduleObject> = {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "CopySchedule",
    metadata: {
      name,
      namespace: "ns",
      uid: `${uid}-sched`,
      generation: 1,
      creationTimestamp: "2025-01-01T00:00:00Z",
      finalizers: ["arraycopy.io/schedule-copies"],
    },
    spec: {
      schedule: "0 2 * * *",
      suspend: false,
      concurrencyPolicy: "Forbid",
      virtualCopyTemplate: { spec: { source: { volumeName: "data" }, readOnly: true } },
    },
  };
  for (const m of mods) m(s);
  return s;
}

export const scheduled =
  (schedule: string, timeZone?: string): ScheduleMod =>
  (s) => {
    s.spec.schedule = schedule;
    if (timeZone !== undefined) s.spec.timeZone = timeZone;
  };
export const concurrency =
  (policy: "Forbid" | "Replace" | "Allow"): ScheduleMod =>
  (s) => {
    s.spec.concurrencyPolicy = policy;
  };
export const deadline =
  (seconds: number): ScheduleMod =>
  (s) => {
    s.spec.startingDeadlineSeconds = seconds;
  };
/** The schedule makes VirtualCopyGroups of two volumes instead of VirtualCopies. */
export const makingGroups = (): ScheduleMod => (s) => {
  Reflect.deleteProperty(s.spec, "virtualCopyTemplate");
  s.spec.virtualCopyGroupTemplate = { spec: { members: { volumes: ["data", "wal"] }, readOnly: true } };
};
/** The schedule makes Resync CopyJobs of the PhysicalCopy "copy" instead of VirtualCopies. */
export const makingJobs = (): ScheduleMod => (s) => {
  Reflect.deleteProperty(s.spec, "virtualCopyTemplate");
  s.spec.copyJobTemplate = { spec: { copyRef: { kind: "PhysicalCopy", name: "copy" }, operation: "Resync" } };
};
export const suspended = (): ScheduleMod => (s) => {
  s.spec.suspend = true;
};
export const lastScheduled =
  (at: string): ScheduleMod =>
  (s) => {
    s.status = { ...s.status, lastScheduleTime: at };
  };
export const keeping =
  (retention: NonNullable<CopyScheduleObject["spec"]["retention"]>): ScheduleMod =>
  (s) => {
    s.spec.retention = retention;
  };
export const scheduleDeleting = (): ScheduleMod => (s) => {
  s.metadata.deletionTimestamp = "2025-01-05T00:00:00Z";
};
export const withoutScheduleFinalizer = (): ScheduleMod => (s) => {
  s.metadata.finalizers = [];
};
