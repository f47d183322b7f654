// The embedded engine's shared state: the catalog (catalog-state.ts: records, indexes, changes), the block store,
// the clock, job listeners and the jobs running now. Operations (copies.ts, volumes.ts, jobs.ts) change the catalog
// in memory under the engine's mutex and call save() before they report success, so what a caller was told is
// on disk. Nodes and copy records go together: removing a node removes the copy made as it.
//
// Persistence: meta.json holds a full image of the catalog and names a journal generation; meta.<generation>.log
// (record-log.ts) holds the deltas committed since, one record each, replayed at open in order. A commit appends
// the records changed since the last one (one write and one fdatasync, whatever the catalog's size). Once the
// journal outgrows the image (at least 4 MiB), the next commit writes a full image instead, naming the next
// generation, and the old journal is removed: a crash in between leaves an image whose journal does not exist
// yet (nothing to replay) or the old image with its whole journal.
//
// Catalog writes are group-committed: one writer writes what was taken, one write at a time; every write holds
// every change made before it was taken, and deltas are taken only where no operation is half done (under the
// mutex). save() takes its delta at once and waits for the write. A caller that needs no ordering against later
// file changes (a create: it only adds) may release the mutex before its write is durable (`saveLater`) and report
// success after: the operations that follow it then share the next write instead of each paying one in turn.
import { unlink } from "node:fs/promises";
import { join } from "node:path";
import { arrayError, EngineError } from "../errors.ts";
import type { Clock, CopyObservation, JobIndication, JobListener, JobObservation } from "../port.ts";
import type { CopyRecord, JobRecord, NodeRecord, VolumeSetRecord } from "./catalog.ts";
import { CatalogState } from "./catalog-state.ts";
import { writeFileAtomic } from "./files.ts";
import { MoverPool } from "./mover.ts";
import { RecordLog } from "./record-log.ts";
import type { BlockStore } from "./store.ts";
import type { LiveNode } from "./view.ts";

export const metaFile = "meta.json";
/** The journal that follows an image of `generation`. */
export const journalFile = (generation: number): string => `meta.${String(generation)}.log`;
export const deltaRecord = 1;
/** A journal this large (or as large as the last image, if that is more) is folded into a new image. */
export const defaultCompactBytes = 4 * 1024 * 1024;

/** Where the catalog is persisted, as open() found it, and how. */
export interface CatalogFiles {
  readonly journal: RecordLog;
  readonly generation: number;
  readonly imageBytes: number;
  readonly compactBytes: number;
  /**
   * Tests: every delta taken is also replayed onto a copy of the catalog, which must then match it exactly (a
   * change the journal missed fails the operation that made it). Costs a full image per commit.
   */
  readonly verify?: CatalogState | undefined;
}

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
  readonly catalog: CatalogState;
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
    catalog: CatalogState,
    files: CatalogFiles,
    store: BlockStore,
    clock: Clock,
    limits: { readonly maxConcurrentCopies: number; readonly flushBytes: number },
  ) {
    this.dir = dir;
    this.catalog = catalog;
    this.#journal = files.journal;
    this.#generation = files.generation;
    this.#lastGeneration = files.generation;
    this.#imageBytes = files.imageBytes;
    this.#compactBytes = files.compactBytes;
    this.#replica = files.verify;
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
  /** What was taken and not yet written: deltas in order, or (compacting) a full image and the deltas after it. */
  #pending: string[] = [];
  #image: { readonly text: string; readonly generation: number } | undefined;
  /** How many save requests what was taken covers; requests after it leave the catalog dirty. */
  #latestCovers = 0;
  #dirty = false;
  #requested = 0;
  #durable = 0;
  #writing: Promise<void> | undefined;
  /** Set while the writer waits for the mutex to take a delta: save() hands it its own instead. */
  #provide: (() => void) | undefined;
  #journal: RecordLog;
  /** The generation of the image on disk (its journal is #journal), and the last one an image was taken for. */
  #generation: number;
  #lastGeneration: number;
  #imageBytes: number;
  readonly #compactBytes: number;
  readonly #replica: CatalogState | undefined;
  /** The next take writes a full image: the journal outgrew it, or a write failed (whose deltas are gone). */
  #compactDue = false;

  /**
   * Writes the catalog's changes made so far; resolves once durable. Call under the mutex, before any change that
   * needs it on disk. Takes the delta at once, so a writer waiting for the mutex (held by this caller) gets it.
   */
  async save(): Promise<void> {
    const want = ++this.#requested;
    this.#take();
    this.#provide?.();
    await this.#until(want);
  }

  /**
   * Resolves once a write holding the change just made (call under the mutex, after the change) is durable; await it
   * only after releasing the mutex. The delta is taken lazily, once per write however many requests it covers. A
   * failed write rejects it: it must be awaited.
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

  /** After writesDone. */
  async closeJournal(): Promise<void> {
    await this.#journal.close();
  }

  #take(): void {
    if (this.#compactDue) {
      const delta = this.catalog.takeDelta();
      // Each image names a generation of its own: a second image taken while the first is being written must not
      // reuse (and so remove) the journal that the first one starts.
      const generation = ++this.#lastGeneration;
      this.#image = { text: this.catalog.image(generation), generation };
      this.#pending = [];
      this.#compactDue = false;
      if (delta !== undefined) this.#verify(delta);
    } else {
      const delta = this.catalog.takeDelta();
      if (delta !== undefined) {
        this.#pending.push(delta);
        this.#verify(delta);
      }
    }
    this.#latestCovers = this.#requested;
    this.#dirty = false;
  }

  #verify(delta: string): void {
    if (this.#replica === undefined) return;
    this.#replica.apply(delta);
    if (this.#replica.image(0) !== this.catalog.image(0)) {
      throw new EngineError("internal: the catalog's journal does not hold every change", { code: "Internal" });
    }
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
      // Take the delta in a turn of the mutex, unless a save() (whose caller holds the mutex) provides one first.
      const provided = new Promise<void>((resolve) => {
        this.#provide = resolve;
      });
      const turn = this.exclusive(() => {
        if (this.#dirty) this.#take();
        return Promise.resolve();
      });
      try {
        await Promise.race([turn, provided]);
      } finally {
        this.#provide = undefined;
      }
      // If save() provided the delta, the turn still comes later and finds nothing (or new changes) to take.
      turn.catch(() => undefined);
    }
    const upTo = this.#latestCovers;
    if (upTo <= this.#durable) return;
    const image = this.#image;
    const deltas = this.#pending;
    this.#image = undefined;
    this.#pending = [];
    try {
      if (image !== undefined) await this.#writeImage(image);
      if (deltas.length > 0) {
        await this.#journal.append(deltas.map((d) => ({ type: deltaRecord, arg: 0, payload: Buffer.from(d) })));
      }
    } catch (e: unknown) {
      // What was taken is lost to the files; the catalog in memory still holds it, so the next write is whole.
      this.#compactDue = true;
      this.#dirty = true;
      throw e;
    }
    if (this.#journal.sizeBytes > Math.max(this.#compactBytes, this.#imageBytes)) this.#compactDue = true;
    this.#durable = Math.max(this.#durable, upTo);
  }

  /** A full image naming its generation; then that generation's (empty) journal replaces the old one. */
  async #writeImage(image: { readonly text: string; readonly generation: number }): Promise<void> {
    await writeFileAtomic(join(this.dir, metaFile), image.text);
    const old = this.#generation;
    this.#generation = image.generation;
    this.#imageBytes = image.text.length;
    const previous = this.#journal;
    this.#journal = RecordLog.empty(join(this.dir, journalFile(image.generation)));
    await previous.close();
    await unlink(join(this.dir, journalFile(old))).catch((e: unknown) => {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    });
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
    return this.catalog.copy(name);
  }

  volumeSet(name: string): VolumeSetRecord | undefined {
    return this.catalog.volumeSet(name);
  }

  job(id: string): JobRecord | undefined {
    return this.catalog.job(id);
  }

  children(name: string): NodeRecord[] {
    return this.catalog.children(name);
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
    return this.store.add(this.catalog.put("nodes", record));
  }

  /** Removes a node that has no children: older snapshots take what they read through it, then metadata, then files. */
  async removeNode(name: string): Promise<void> {
    const node = this.store.get(name);
    if (node === undefined) return;
    if (this.catalog.hasChildren(name))
      throw new EngineError(`internal: ${name} still has children`, { code: "Internal" });
    if (node.record.layout === "delta") await this.store.mergeIntoOlder(node);
    this.catalog.remove("nodes", name);
    this.catalog.remove("copies", name);
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
    return [...this.catalog.jobs()].find(
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
    return this.catalog.lastJob(copy)?.id;
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
