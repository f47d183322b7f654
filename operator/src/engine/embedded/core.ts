// The embedded engine's shared state: the catalog (persisted whole, atomically, by save()), the block store, the
// clock, job listeners and the jobs running now. Operations (copies.ts, volumes.ts, jobs.ts) change the catalog
// in memory under the engine's mutex and call save() before they report success, so what a caller was told is
// on disk. Nodes and copy records go together: removing a node removes the copy made as it.
//
// Catalog writes are group-committed: one writer writes the newest image of the catalog with its fsyncs, one write
// at a time; every write holds every change made before its image was taken, and images are taken only where no
// operation is half done (under the mutex). save() takes its image at once and waits for the write. A caller that
// needs no ordering against later file changes (a create: it only adds) may release the mutex before its write is
// durable (`saveLater`) and report success after: the operations that follow it then share the next write, and its
// single image, instead of each paying a serialization, a write and two fsyncs in turn.
import { join } from "node:path";
import { arrayError, EngineError } from "../errors.ts";
import type { Clock, CopyObservation, JobIndication, JobListener, JobObservation } from "../port.ts";
import type { Catalog, CopyRecord, JobRecord, NodeRecord, VolumeSetRecord } from "./catalog.ts";
import { writeFileAtomic } from "./files.ts";
import { MoverPool } from "./mover.ts";
import type { BlockStore } from "./store.ts";
import type { LiveNode } from "./view.ts";

export const metaFile = "meta.json";

export interface NewNode {
  readonly name: string;
  readonly sizeBytes: number;
  readonly layout: "overlay" | "delta";
  readonly parent: string | undefined;
  readonly readOnly: boolean;
  readonly internal: boolean;
  readonly expiresAt?: number;
  readonly retainedUntil?: number;
}

export class Core {
  readonly dir: string;
  readonly catalog: Catalog;
  readonly store: BlockStore;
  readonly clock: Clock;
  readonly maxConcurrentCopies: number;
  /** A running copy flushes its target and records a resume point every this many bytes. */
  readonly flushBytes: number;
  readonly listeners = new Set<JobListener>();
  /** The threads that move physical copies' bytes. */
  readonly movers = new MoverPool();
  /** Jobs whose worker has not returned yet (a halted one may still be finishing its last chunk). */
  readonly workers = new Map<string, AbortController>();

  constructor(
    dir: string,
    catalog: Catalog,
    store: BlockStore,
    clock: Clock,
    limits: { readonly maxConcurrentCopies: number; readonly flushBytes: number },
  ) {
    this.dir = dir;
    this.catalog = catalog;
    this.store = store;
    this.clock = clock;
    this.maxConcurrentCopies = limits.maxConcurrentCopies;
    this.flushBytes = limits.flushBytes;
  }

  now(): number {
    return this.clock.now();
  }

  /**
   * Runs `work` holding the engine's mutex (set by the engine): the writer takes a lazy image there, at a moment no
   * operation is half done.
   */
  exclusive: (work: () => Promise<void>) => Promise<void> = (work) => work();
  /** The newest catalog image taken and how many save requests it covers; requests after it leave it dirty. */
  #latest: string | undefined;
  #latestCovers = 0;
  #dirty = false;
  #requested = 0;
  #durable = 0;
  #writing: Promise<void> | undefined;
  /** Set while the writer waits for the mutex to take an image: save() hands it its own instead. */
  #provide: (() => void) | undefined;

  /**
   * Writes the catalog as it is now; resolves once durable. Call under the mutex, before any change that needs it on
   * disk. Takes the image at once, so a writer waiting for the mutex (held by this caller) gets it and never waits.
   */
  async save(): Promise<void> {
    const want = ++this.#requested;
    this.#takeImage();
    this.#provide?.();
    await this.#until(want);
  }

  /**
   * Resolves once a write holding the change just made (call under the mutex, after the change) is durable; await it
   * only after releasing the mutex. The image is taken lazily, once per write however many requests it covers (a
   * catalog of thousands of copies costs milliseconds to serialize). A failed write rejects it: it must be awaited.
   */
  saveLater(): Promise<void> {
    const want = ++this.#requested;
    this.#dirty = true;
    return this.#until(want);
  }

  /** Resolves once every change requested so far is durable, without asking for a write of its own. */
  settled(): Promise<void> {
    return this.#until(this.#requested);
  }

  /**
   * Resolves once every change requested so far is written, or its write failed, and no write is in flight (closing
   * waits for this before releasing the directory's lock, so no late write can land under another process).
   */
  async writesDone(): Promise<void> {
    await this.settled().catch(() => undefined);
    while (this.#writing !== undefined) await this.#writing.catch(() => undefined);
  }

  #takeImage(): void {
    this.#latest = JSON.stringify(this.catalog);
    this.#latestCovers = this.#requested;
    this.#dirty = false;
  }

  async #until(want: number): Promise<void> {
    while (this.#durable < want) {
      this.#writing ??= this.#writeLatest().finally(() => {
        this.#writing = undefined;
      });
      await this.#writing;
    }
  }

  async #writeLatest(): Promise<void> {
    if (this.#dirty) {
      // Take the image in a turn of the mutex, unless a save() (whose caller holds the mutex) provides one first.
      const provided = new Promise<void>((resolve) => {
        this.#provide = resolve;
      });
      const turn = this.exclusive(() => {
        if (this.#dirty) this.#takeImage();
        return Promise.resolve();
      });
      try {
        await Promise.race([turn, provided]);
      } finally {
        this.#provide = undefined;
      }
      // If save() provided the image, the turn still comes later and finds nothing (or new changes) to take.
      turn.catch(() => undefined);
    }
    const upTo = this.#latestCovers;
    const image = this.#latest;
    if (image === undefined || upTo <= this.#durable) return;
    await writeFileAtomic(join(this.dir, metaFile), image);
    this.#durable = Math.max(this.#durable, upTo);
  }

  /** A volume node a caller may name (engine-internal snapshots are invisible). */
  userNode(name: string): LiveNode | undefined {
    const node = this.store.get(name);
    return node === undefined || node.record.internal ? undefined : node;
  }

  requireNode(name: string, what = "volume"): LiveNode {
    const node = this.userNode(name);
    if (node === undefined) throw arrayError("NON_EXISTENT_VOL", `${what} ${name} not found`);
    return node;
  }

  copy(name: string): CopyRecord | undefined {
    return this.catalog.copies.find((c) => c.name === name);
  }

  volumeSet(name: string): VolumeSetRecord | undefined {
    return this.catalog.volumeSets?.find((v) => v.name === name);
  }

  job(id: string): JobRecord | undefined {
    return this.catalog.jobs.find((j) => j.id === id);
  }

  children(name: string): NodeRecord[] {
    return this.catalog.nodes.filter((n) => n.parent === name);
  }

  addNode(spec: NewNode): LiveNode {
    const record: NodeRecord = {
      id: this.catalog.nextId++,
      seq: this.catalog.nextSeq++,
      name: spec.name,
      sizeBytes: spec.sizeBytes,
      layout: spec.layout,
      parent: spec.parent,
      readOnly: spec.readOnly,
      internal: spec.internal,
      createdAt: this.now(),
      expiresAt: spec.expiresAt,
      retainedUntil: spec.retainedUntil,
      contentComplete: true,
    };
    this.catalog.nodes.push(record);
    return this.store.add(record);
  }

  /** Removes a node that has no children: older snapshots take what they read through it, then metadata, then files. */
  async removeNode(name: string): Promise<void> {
    const node = this.store.get(name);
    if (node === undefined) return;
    if (this.children(name).length > 0)
      throw new EngineError(`internal: ${name} still has children`, { code: "Internal" });
    if (node.record.layout === "delta") await this.store.mergeIntoOlder(node);
    this.catalog.nodes = this.catalog.nodes.filter((n) => n.name !== name);
    this.catalog.copies = this.catalog.copies.filter((c) => c.name !== name);
    await this.save();
    await this.store.remove(name);
  }

  /** A physical copy is running or queued onto this volume, or it is held as an associated copy's target. */
  copyTargetState(name: string): "copying" | "associated" | undefined {
    const record = this.copy(name);
    if (record?.kind !== "Physical") return undefined;
    if (record.activeJob !== undefined || this.workers.has(this.lastJobId(name) ?? "")) return "copying";
    return record.sync === undefined ? undefined : "associated";
  }

  /** The volume a restore is writing now, by restore target name. */
  restoringOnto(name: string): JobRecord | undefined {
    return this.catalog.jobs.find(
      (j) => j.operation === "Restore" && j.endTime === undefined && this.restoreTarget(j.copy)?.record.name === name,
    );
  }

  /**
   * Where a virtual copy is promoted to: its parent, or for a read-write copy of a read-only one, the RW volume above.
   */
  restoreTarget(copyName: string): LiveNode | undefined {
    const snapshot = this.store.get(copyName);
    const parent = snapshot?.record.parent === undefined ? undefined : this.store.get(snapshot.record.parent);
    if (parent === undefined || snapshot === undefined) return undefined;
    if (snapshot.record.layout === "delta") return parent;
    return parent.record.parent === undefined ? undefined : this.store.get(parent.record.parent);
  }

  lastJobId(copy: string): string | undefined {
    let last: JobRecord | undefined;
    for (const j of this.catalog.jobs)
      if (j.copy === copy && (last === undefined || Number(j.id) > Number(last.id))) last = j;
    return last?.id;
  }

  emit(kind: JobIndication["kind"], job: JobRecord): void {
    const indication: JobIndication = { kind, job: observeJob(job) };
    for (const listener of this.listeners) {
      try {
        listener(indication);
      } catch {
        // A listener's failure is its own; the engine and the other listeners carry on.
      }
    }
  }

  observeCopy(record: CopyRecord): CopyObservation | undefined {
    const node = this.store.get(record.name);
    if (node === undefined) return undefined;
    const sync = record.sync;
    return {
      name: record.name,
      kind: record.kind,
      source: record.source,
      owner: { ...record.owner },
      sizeBytes: node.record.sizeBytes,
      readOnly: node.record.readOnly,
      createdAt: record.createdAt,
      expiresAt: node.record.expiresAt,
      retainedUntil: node.record.retainedUntil,
      online: record.online,
      saveSnapshot: record.saveSnapshot,
      synchronization:
        sync === undefined
          ? undefined
          : {
              copyType: sync.copyType,
              replicaType: sync.replicaType,
              syncState: sync.syncState,
              syncMaintained: false,
              whenSynced: sync.whenSynced,
              percentSynced: sync.percentSynced,
              copyPriority: sync.copyPriority,
            },
      contentComplete: node.record.contentComplete,
      activeJob: record.activeJob,
      lastJob: this.lastJobId(record.name),
    };
  }
}

export function observeJob(job: JobRecord): JobObservation {
  return {
    id: job.id,
    operation: job.operation,
    copy: job.copy,
    priority: job.priority,
    jobState: job.jobState,
    operationalStatus: [...job.operationalStatus],
    percentComplete: job.percentComplete,
    errorCode: job.errorCode,
    errorDescription: job.errorDescription,
    timeSubmitted: job.timeSubmitted,
    startTime: job.startTime,
    endTime: job.endTime,
  };
}
