// The embedded engine's metadata, kept whole in memory and persisted as one JSON file replaced atomically on every
// structural change (files.ts). Block maps are not in it: each volume node journals its own (record-log.ts).
//
// Invariants: node names are unique; a node's id is never reused (nextId only grows), so a file left behind by a
// crash can never be mistaken for a newer node's; a copy record exists for every copy made through the port, the
// association (sync) only while the array would show a StorageSynchronized instance.
import type { CopyPriority, CopyType, JobState, OperationalStatus, ReplicaType, SyncState } from "../port.ts";
import type { CopyKind, JobOperation, OwnerTag } from "../port.ts";

export const blockBytes = 64 * 1024;
/** Volume sizes are whole MiB, as on the array. */
export const sizeGranule = 1024 * 1024;

export interface NodeRecord {
  readonly id: number;
  readonly name: string;
  sizeBytes: number;
  /**
   * overlay: holds the blocks it owns in a data file and reads the rest from its parent's view (zeros without one);
   * delta: a read-only snapshot holding the old blocks its parent overwrote since (copy-on-write, after delta).
   */
  readonly layout: "overlay" | "delta";
  /** The node this one is a snapshot of. */
  readonly parent: string | undefined;
  /** Creation order, which orders a parent's snapshots. */
  readonly seq: number;
  readonly readOnly: boolean;
  /** Engine-made snapshots (a physical copy's point in time); their names cannot be array names. */
  readonly internal: boolean;
  readonly createdAt: number;
  expiresAt: number | undefined;
  retainedUntil: number | undefined;
  /** False after a halted or failed copy or restore wrote part of this volume. */
  contentComplete: boolean;
}

export interface SyncRecord {
  copyType: CopyType;
  replicaType: ReplicaType;
  syncState: SyncState;
  whenSynced: number | undefined;
  percentSynced: number;
  copyPriority: CopyPriority;
  /** Physical copies with saveSnapshot: the internal snapshot holding the source as last copied. */
  savedSnapshot: string | undefined;
}

export interface CopyRecord {
  readonly name: string;
  readonly kind: CopyKind;
  readonly owner: OwnerTag;
  readonly source: string;
  readonly createdAt: number;
  readonly online: boolean;
  readonly saveSnapshot: boolean;
  sync: SyncRecord | undefined;
  activeJob: string | undefined;
}

export interface JobRecord {
  readonly id: string;
  readonly operation: JobOperation;
  readonly copy: string;
  readonly priority: CopyPriority;
  jobState: JobState;
  operationalStatus: OperationalStatus[];
  percentComplete: number;
  errorCode: number;
  errorDescription: string;
  readonly timeSubmitted: number;
  startTime: number | undefined;
  endTime: number | undefined;
  /**
   * The internal snapshot taken when the job was submitted: the point in time it copies (or, for Restore, the copy).
   */
  readonly pointInTime: string | undefined;
  /** The snapshot the previous sync left, whose changes a resync copies; replaced when the job succeeds. */
  readonly previousSnapshot: string | undefined;
}

/** A volume set (vvset): a named, ordered list of volumes, which the array snapshots together. */
export interface VolumeSetRecord {
  readonly name: string;
  members: string[];
}

export interface Catalog {
  version: 1;
  nextId: number;
  nextSeq: number;
  nextJob: number;
  nodes: NodeRecord[];
  copies: CopyRecord[];
  jobs: JobRecord[];
  /** Absent in catalogs written before volume sets existed. */
  volumeSets?: VolumeSetRecord[];
  /** The generation of the journal that follows this image (core.ts); absent (0) before the journal existed. */
  journal?: number;
}

export function emptyCatalog(): Catalog {
  return { version: 1, nextId: 1, nextSeq: 1, nextJob: 1, nodes: [], copies: [], jobs: [], volumeSets: [] };
}

/** JSON drops undefined members; reading restores the shape (absent means undefined, which the types allow). */
export function parseCatalog(text: string): Catalog {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null || (value as { version?: unknown }).version !== 1) {
    throw new Error("metadata has an unknown version");
  }
  return value as Catalog;
}
