// The engine port: what controllers may ask of an array's copy engine, in copy terms and the CIM vocabulary
// (DOMAIN.md §1–§2), never in Kubernetes objects. Every engine (embedded, wsapi, later cim) implements it and
// passes the same contract suite (test/contract).
//
// Invariants every implementation keeps:
// - Calls never block on copying data: long work returns a job that is observed (or followed by subscribing).
// - Creates are idempotent on (name, owner): repeating one returns the existing copy; another owner gets
//   EXISTENT_VOL (22). Deleting what is gone succeeds. Observe never mutates (except expiring what is due).
// - A finished job (finishedJobStates) never changes again.
// - Delete, halt and startJob name the owner the copy must carry and are refused (NotOwned) otherwise, whatever
//   any query answered: nothing is destroyed on the word of a name or a filter.
// - Failures throw EngineError (errors.ts) with a port code, the array's code and a final/uncertain/retryable kind.
// - Times are milliseconds since the epoch, from the engine's injected clock.
import type { CopyPriority, CopyType, JobState, OperationalStatus, ReplicaType, SyncState } from "../cim/values.ts";

// Drivers take the vocabulary from the port, so they depend on nothing above it.
export type { CopyPriority, CopyType, JobState, OperationalStatus, ReplicaType, SyncState } from "../cim/values.ts";
export { finishedJobStates } from "../cim/values.ts";

/** Who owns an array object; a real array keeps it serialised in the object's comment. */
export interface OwnerTag {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

/** Options every call accepts: an abort signal is honoured until the call has started to mutate the array. */
export interface CallOptions {
  readonly signal?: AbortSignal;
}

export type CopyKind = "Virtual" | "Physical";

/** The CIM_StorageSynchronized association between a copy and its source; absent once the array dropped it. */
export interface SynchronizationObservation {
  readonly copyType: CopyType;
  readonly replicaType: ReplicaType;
  readonly syncState: SyncState;
  readonly syncMaintained: boolean;
  /** The point in time the copy holds; undefined until the first successful copy. */
  readonly whenSynced: number | undefined;
  /** 0–100, meaningful while a copy or resync runs. */
  readonly percentSynced: number;
  readonly copyPriority: CopyPriority;
}

export interface CopyObservation {
  /** Array name of the copy: the snapshot for a virtual copy, the destination volume for a physical copy. */
  readonly name: string;
  readonly kind: CopyKind;
  /** Array name of the volume the copy was taken of. */
  readonly source: string;
  readonly owner: OwnerTag;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly createdAt: number;
  /** Virtual copies: the array deletes the copy at this time. */
  readonly expiresAt: number | undefined;
  /** Virtual copies: the array refuses to delete the copy before this time. */
  readonly retainedUntil: number | undefined;
  /** Physical copies: created with online (engine-created destination) / saveSnapshot (resynchronisable). */
  readonly online: boolean;
  readonly saveSnapshot: boolean;
  readonly synchronization: SynchronizationObservation | undefined;
  /** False when the copy's data is not a complete point-in-time image (a halted or broken copy). */
  readonly contentComplete: boolean;
  /** The job queued or running on this copy, if any. */
  readonly activeJob: string | undefined;
  /** The most recent job on this copy (running or finished), while the engine still keeps it. */
  readonly lastJob: string | undefined;
}

/** Copy is the initial physical copy; the others are asked for with startJob. */
export type JobOperation = "Copy" | "Resync" | "StartCopy" | "Restore" | "Detach";

/** A CIM_ConcreteJob / array task. */
export interface JobObservation {
  readonly id: string;
  readonly operation: JobOperation;
  /** The copy the job acts on. */
  readonly copy: string;
  readonly priority: CopyPriority;
  readonly jobState: JobState;
  /** [Completed, OK] or [Completed, Error] once finished; [Completed, Aborted] after a halt. */
  readonly operationalStatus: readonly OperationalStatus[];
  readonly percentComplete: number;
  /** The array's error code, 0 when none. */
  readonly errorCode: number;
  readonly errorDescription: string;
  readonly timeSubmitted: number;
  readonly startTime: number | undefined;
  readonly endTime: number | undefined;
}

/** Job control indications (DOMAIN.md §2.5): started, progress, and finished with its OperationalStatus. */
export interface JobIndication {
  readonly kind: "Started" | "Progress" | "Finished";
  readonly job: JobObservation;
}

export type JobListener = (indication: JobIndication) => void;

/** Pushed indications of an engine whose array delivers them to a listener: made, arriving, or why not. */
export interface IndicationStatus {
  readonly state: "Subscribing" | "Arriving" | "NotSubscribed" | "NotArriving";
  readonly message: string;
}

export interface Capabilities {
  readonly virtualCopies: boolean;
  readonly physicalCopies: boolean;
  readonly onlinePhysicalCopies: boolean;
  readonly resync: boolean;
  readonly restore: boolean;
  readonly expiration: boolean;
  readonly retention: boolean;
  /** Physical copies the array runs at once; more are queued (SyncState Initialized). */
  readonly maxConcurrentPhysicalCopies: number;
  readonly maxNameLength: number;
  /** Job indications are pushed to subscribers (else they must be polled). */
  readonly indications: boolean;
  /** Volumes can be created and their data read and written through engine.volumes. */
  readonly volumes: boolean;
  /**
   * Virtual copies of several volumes at one point in time (createGroupVirtualCopy), and volume sets read by
   * name (observeVolumeSet). Without it both calls are refused with Unsupported.
   */
  readonly groupVirtualCopies: boolean;
  /**
   * A volume this engine makes on the array (an online physical copy) can be taken over, by its array name, by the
   * CSI driver that serves the array's volumes to Kubernetes (the HPE CSI driver's importVolumeName): the
   * populator's array-clone strategy. Which CSI driver that is comes from the class (its csiDriver).
   */
  readonly csiImport: boolean;
  /**
   * How a PersistentVolume of the CSI driver that serves this engine's array names its array volume (the class's
   * csiVolumeHandle overrides it): "ArrayVolumeName", the volumeHandle is the array volume's name (the embedded
   * engine and our own CSI driver); "HPE3PARCSP", the HPE CSI driver with its 3PAR / Primera / Alletra CSP, whose
   * volumeHandle is the PV's name (pvc-<uid>) and whose array volume is the first maxNameLength characters of it,
   * checked on the array before use (docs/sources.md).
   */
  readonly csiVolumeHandle: CsiVolumeHandle;
  /**
   * A create whose call failed, timed out or was cut off may still take effect later: the request was on its way
   * to a remote array. The controllers then record when they asked (the create-intent annotation) before the call,
   * and on deletion wait out the uncertainty window before they let go of an object the array may yet hold. False
   * for an engine whose calls are linearizable in the operator's process (the embedded engine: each call runs
   * under one mutex, so a create that was started is seen by every later observe), which needs no record.
   */
  readonly createsMayLandLate: boolean;
}

export type CsiVolumeHandle = "ArrayVolumeName" | "HPE3PARCSP";

export interface CreateVirtualCopyRequest {
  readonly name: string;
  readonly source: string;
  readonly readOnly: boolean;
  /** 1–43800. */
  readonly expirationHours?: number;
  /** 1–43800, not above expirationHours. */
  readonly retentionHours?: number;
  readonly owner: OwnerTag;
}

/** The most volumes one group copy takes (names keep two digits of index: vg-<22 hex>-NN fits 31). */
export const maxGroupMembers = 64;

/**
 * Virtual copies of every member at one point in time, or of none. Member i (in the order the engine reports: a
 * volume set's own order, else `sources` as given) is named `${namePrefix}${i}`, which is what the array's
 * volume-set snapshot makes of the name pattern `${namePrefix}@count@` (DOMAIN.md §3.2).
 */
export interface CreateGroupVirtualCopyRequest {
  readonly namePrefix: string;
  /** The member volumes, distinct, 1 to maxGroupMembers of them. */
  readonly sources: readonly string[];
  /**
   * The array volume set whose members these are, when the caller named one. Engines that can only snapshot a
   * set look for a set with exactly these members when none is named, and refuse (Unsupported) if there is none.
   */
  readonly volumeSet?: string;
  readonly readOnly: boolean;
  readonly expirationHours?: number;
  readonly retentionHours?: number;
  readonly owner: OwnerTag;
}

/** An array volume set (3PAR vvset): a named, ordered list of volumes. */
export interface VolumeSetObservation {
  readonly name: string;
  readonly members: readonly string[];
}

export interface CreatePhysicalCopyRequest {
  /** The destination volume: must exist for an offline copy; created by the engine for an online copy. */
  readonly name: string;
  readonly source: string;
  readonly online: boolean;
  /** Keep a snapshot of the source so the copy stays associated and can be resynchronised (offline only). */
  readonly saveSnapshot: boolean;
  /** Offline copies only; defaults to Same. */
  readonly priority?: CopyPriority;
  /** Online copies: the destination's size, at least the source's; defaults to the source's. */
  readonly sizeBytes?: number;
  readonly owner: OwnerTag;
}

/**
 * The copy a destructive call means and the owner it must carry. Engines check the tag on their own side before
 * they change anything, and refuse another owner's object (or an untagged one) with NotOwned.
 */
export interface CopyRef {
  readonly name: string;
  readonly owner: OwnerTag;
}

export interface StartJobRequest {
  readonly copy: string;
  /** The owner the copy must carry (NotOwned otherwise). */
  readonly owner: OwnerTag;
  readonly operation: Exclude<JobOperation, "Copy">;
  readonly priority?: CopyPriority;
}

/** What halt acts on: the job running on a copy, or a job by id; the copy must carry `owner` (NotOwned otherwise). */
export type HaltTarget =
  { readonly copy: string; readonly owner: OwnerTag } | { readonly job: string; readonly owner: OwnerTag };

export interface VolumeObservation {
  readonly name: string;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  /** The volume this one is a virtual or physical copy of, if any. */
  readonly copyOf: string | undefined;
  /** False while a copy or promote onto it is incomplete (the array's "copy failed" state after a halt). */
  readonly contentComplete: boolean;
}

/** Optional capability "volumes": lets tests and demos put data in and verify copies byte for byte. */
export interface VolumeOps {
  createVolume(name: string, sizeBytes: number, options?: CallOptions): Promise<VolumeObservation>;
  /** Grow only, as on the array. */
  resizeVolume(name: string, sizeBytes: number, options?: CallOptions): Promise<VolumeObservation>;
  deleteVolume(name: string, options?: CallOptions): Promise<void>;
  readVolume(name: string, offset: number, length: number, options?: CallOptions): Promise<Buffer>;
  /** Durable when it resolves, like a write acknowledged by the array. */
  writeVolume(name: string, offset: number, data: Uint8Array, options?: CallOptions): Promise<void>;
  listVolumes(options?: CallOptions): Promise<readonly VolumeObservation[]>;
  /** Makes a volume set of existing volumes (3PAR createvvset); EXISTENT_VOL-like refusal if the name is taken. */
  createVolumeSet(name: string, members: readonly string[], options?: CallOptions): Promise<VolumeSetObservation>;
  deleteVolumeSet(name: string, options?: CallOptions): Promise<void>;
}

export interface Engine {
  capabilities(): Capabilities;
  createVirtualCopy(request: CreateVirtualCopyRequest, options?: CallOptions): Promise<CopyObservation>;
  createPhysicalCopy(
    request: CreatePhysicalCopyRequest,
    options?: CallOptions,
  ): Promise<{ readonly copy: CopyObservation; readonly job: JobObservation }>;
  /**
   * All members' virtual copies in one step (one catalog commit; one volume-set snapshot on an array), in member
   * order; repeated with the same prefix, sources and owner it returns the existing copies. Nothing is left when
   * it fails. Capability groupVirtualCopies.
   */
  createGroupVirtualCopy(
    request: CreateGroupVirtualCopyRequest,
    options?: CallOptions,
  ): Promise<readonly CopyObservation[]>;
  /** An array volume set and its members, undefined when there is none of that name. Capability groupVirtualCopies. */
  observeVolumeSet(name: string, options?: CallOptions): Promise<VolumeSetObservation | undefined>;
  /** Detach completes at once, as on the array, and returns a job already Completed. */
  startJob(request: StartJobRequest, options?: CallOptions): Promise<JobObservation>;
  /** Stops a queued or running job; a finished job is returned unchanged; undefined when nothing runs on the copy. */
  halt(target: HaltTarget, options?: CallOptions): Promise<JobObservation | undefined>;
  observeCopy(name: string, options?: CallOptions): Promise<CopyObservation | undefined>;
  /** Any array volume (a base volume or a copy) by its exact name; undefined when the array has none. */
  observeVolume(name: string, options?: CallOptions): Promise<VolumeObservation | undefined>;
  observeJob(id: string, options?: CallOptions): Promise<JobObservation | undefined>;
  /** Deleting a copy that is gone succeeds; one that carries another owner's tag (or none) is refused, NotOwned. */
  deleteCopy(copy: CopyRef, options?: CallOptions): Promise<void>;
  listCopies(options?: CallOptions): Promise<readonly CopyObservation[]>;
  subscribe(listener: JobListener): () => void;
  /** For drivers whose array pushes indications to a listener (cim): whether they are subscribed and arrive. */
  indicationStatus?(): IndicationStatus | undefined;
  /** Present when capabilities().volumes. */
  readonly volumes: VolumeOps | undefined;
  close(): Promise<void>;
}

/** What an engine is opened with; a driver adds its own settings. */
export interface Clock {
  now(): number;
}
