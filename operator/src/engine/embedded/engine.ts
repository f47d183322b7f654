// The embedded engine: a real copy engine over sparse files in one data directory, behind the engine port.
// open() takes the directory's lock, reads the catalog, rebuilds block maps from their logs, resumes jobs a dead
// process left running (from their last checkpoint), removes files no node owns, and restarts the queue. Every call
// runs under one mutex, first collects internal snapshots nothing refers to and expires due virtual copies,
// honours its AbortSignal until it starts to change anything, and reports failures as EngineError with the
// call's context ("cannot …: …").
import { mkdir, readdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { EngineError, withContext } from "../errors.ts";
import type {
  CallOptions,
  Capabilities,
  Clock,
  CopyObservation,
  CopyRef,
  CreateGroupVirtualCopyRequest,
  CreatePhysicalCopyRequest,
  CreateVirtualCopyRequest,
  Engine,
  HaltTarget,
  JobListener,
  JobObservation,
  StartJobRequest,
  VolumeObservation,
  VolumeOps,
  VolumeSetObservation,
} from "../port.ts";
import { emptyCatalog, parseCatalog, type Catalog } from "./catalog.ts";
import { defaultFlushBytes } from "./copier.ts";
import { Copies } from "./copies.ts";
import { CatalogState } from "./catalog-state.ts";
import {
  Core,
  defaultCompactBytes,
  deltaRecord,
  journalFile,
  metaFile,
  observeJob,
  type CatalogFiles,
} from "./core.ts";
import { Jobs } from "./jobs.ts";
import { lockDirectory } from "./lock.ts";
import { Mutex } from "./mutex.ts";
import { RecordLog } from "./record-log.ts";
import { maxNameLength } from "./rules.ts";
import { BlockStore } from "./store.ts";
import { Volumes } from "./volumes.ts";

export interface EmbeddedEngineOptions {
  readonly dataDir: string;
  readonly clock?: Clock;
  /** The array runs two physical copies at once. */
  readonly maxConcurrentCopies?: number;
  /** How often expiration is checked besides on every call; 0 turns the timer off. */
  readonly expiryIntervalMs?: number;
  /** A running copy flushes its target and records a resume point every this many bytes (256 MiB). */
  readonly flushBytes?: number;
  /** The catalog's journal is folded into a new image once it holds this much (4 MiB) and more than the image. */
  readonly compactBytes?: number;
  /** Tests: every catalog delta is checked against a replica it is replayed onto (costs a full image each). */
  readonly verifyCatalog?: boolean;
}

/** The image, then its journal's deltas in order; journals of other generations (a crash's leftovers) go. */
async function loadCatalog(
  dir: string,
  options: EmbeddedEngineOptions,
): Promise<{ catalog: CatalogState; files: CatalogFiles }> {
  let image: Catalog;
  let imageBytes = 0;
  try {
    const text = await readFile(join(dir, metaFile), "utf8");
    image = parseCatalog(text);
    imageBytes = text.length;
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    image = emptyCatalog();
  }
  const generation = image.journal ?? 0;
  const catalog = CatalogState.from(image);
  const { log, records } = await RecordLog.open(join(dir, journalFile(generation)), (t) => t === deltaRecord);
  let verify: CatalogState | undefined;
  try {
    for (const r of records) if (r.type === deltaRecord && r.payload !== undefined) catalog.apply(r.payload.toString());
    verify = options.verifyCatalog === true ? CatalogState.from(parseCatalog(catalog.image(0))) : undefined;
    for (const file of await readdir(dir)) {
      if (/^meta\.\d+\.log$/.test(file) && file !== journalFile(generation)) await unlink(join(dir, file));
    }
  } catch (e: unknown) {
    await log.close().catch(() => undefined);
    throw e;
  }
  const compactBytes = options.compactBytes ?? defaultCompactBytes;
  return { catalog, files: { journal: log, generation, imageBytes, compactBytes, verify } };
}

export async function openEmbeddedEngine(options: EmbeddedEngineOptions): Promise<EmbeddedEngine> {
  const dir = options.dataDir;
  await mkdir(join(dir, "vols"), { recursive: true });
  const unlock = await lockDirectory(dir);
  // What was opened before a failure is closed again, so a failed open leaks no file handle.
  let journal: RecordLog | undefined;
  let opened: BlockStore | undefined;
  try {
    const { catalog, files } = await loadCatalog(dir, options);
    journal = files.journal;
    const store = await BlockStore.open(dir, [...catalog.nodes()]);
    opened = store;
    const owned = store.fileIds();
    for (const file of await readdir(join(dir, "vols"))) {
      const id = Number.parseInt(file, 10);
      if (!owned.has(id)) await unlink(join(dir, "vols", file));
    }
    const core = new Core(dir, catalog, files, store, options.clock ?? { now: () => Date.now() }, {
      maxConcurrentCopies: options.maxConcurrentCopies ?? 2,
      flushBytes: options.flushBytes ?? defaultFlushBytes,
    });
    const engine = new EmbeddedEngine(core, unlock, options.expiryIntervalMs ?? 60_000);
    await engine.start();
    return engine;
  } catch (e: unknown) {
    await opened?.close().catch(() => undefined);
    await journal?.close().catch(() => undefined);
    await unlock();
    throw withContext(`cannot open embedded engine in ${dir}`, e);
  }
}

export class EmbeddedEngine implements Engine, VolumeOps {
  readonly volumes: VolumeOps;
  private readonly core: Core;
  private readonly mutex = new Mutex();
  private readonly jobs: Jobs;
  private readonly copies: Copies;
  private readonly volumeOps: Volumes;
  private readonly unlock: () => Promise<void>;
  private readonly expiryIntervalMs: number;
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(core: Core, unlock: () => Promise<void>, expiryIntervalMs: number) {
    this.core = core;
    this.unlock = unlock;
    this.expiryIntervalMs = expiryIntervalMs;
    core.exclusive = (work) => this.mutex.run(work);
    this.jobs = new Jobs(core, this.mutex);
    this.copies = new Copies(core, this.jobs);
    this.volumeOps = new Volumes(core, this.copies);
    this.volumes = this;
  }

  /** Recovery and the first queue run; called once by openEmbeddedEngine. */
  async start(): Promise<void> {
    await this.mutex.run(async () => {
      await this.jobs.recover();
      await this.core.save();
      await this.jobs.startDue();
    });
    if (this.expiryIntervalMs > 0) {
      this.timer = setInterval(() => {
        this.mutex.run(() => this.copies.expireDue()).catch(() => undefined);
      }, this.expiryIntervalMs);
      this.timer.unref();
    }
  }

  capabilities(): Capabilities {
    return {
      virtualCopies: true,
      physicalCopies: true,
      onlinePhysicalCopies: true,
      resync: true,
      restore: true,
      expiration: true,
      retention: true,
      maxConcurrentPhysicalCopies: this.core.maxConcurrentCopies,
      maxNameLength,
      indications: true,
      volumes: true,
      groupVirtualCopies: true,
      csiImport: false,
      csiVolumeHandle: "ArrayVolumeName",
      createsMayLandLate: false,
    };
  }

  createVirtualCopy(request: CreateVirtualCopyRequest, options?: CallOptions): Promise<CopyObservation> {
    return this.callDurable(`cannot create virtual copy ${request.name}`, options, () =>
      Promise.resolve(this.copies.createVirtual(request)),
    );
  }

  createGroupVirtualCopy(
    request: CreateGroupVirtualCopyRequest,
    options?: CallOptions,
  ): Promise<readonly CopyObservation[]> {
    return this.callDurable(`cannot create group virtual copy ${request.namePrefix}*`, options, () => {
      const { copies, durable } = this.copies.createVirtualGroup(request);
      return Promise.resolve({ copy: copies, durable });
    });
  }

  observeVolumeSet(name: string, options?: CallOptions): Promise<VolumeSetObservation | undefined> {
    return this.call(`cannot observe volume set ${name}`, options, () =>
      Promise.resolve(this.volumeOps.observeSet(name)),
    );
  }

  createVolumeSet(name: string, members: readonly string[], options?: CallOptions): Promise<VolumeSetObservation> {
    return this.call(`cannot create volume set ${name}`, options, () => this.volumeOps.createSet(name, members));
  }

  deleteVolumeSet(name: string, options?: CallOptions): Promise<void> {
    return this.call(`cannot delete volume set ${name}`, options, () => this.volumeOps.removeSet(name));
  }

  createPhysicalCopy(
    request: CreatePhysicalCopyRequest,
    options?: CallOptions,
  ): Promise<{ copy: CopyObservation; job: JobObservation }> {
    return this.call(`cannot create physical copy ${request.name}`, options, () => this.copies.createPhysical(request));
  }

  startJob(request: StartJobRequest, options?: CallOptions): Promise<JobObservation> {
    return this.call(`cannot start ${request.operation} on ${request.copy}`, options, () =>
      this.copies.startJob(request),
    );
  }

  halt(target: HaltTarget, options?: CallOptions): Promise<JobObservation | undefined> {
    const what = "job" in target ? `job ${target.job}` : `copy ${target.copy}`;
    return this.call(`cannot halt ${what}`, options, () => this.copies.halt(target));
  }

  observeCopy(name: string, options?: CallOptions): Promise<CopyObservation | undefined> {
    return this.call(`cannot observe copy ${name}`, options, () => {
      const record = this.core.copy(name);
      return Promise.resolve(record === undefined ? undefined : this.core.observeCopy(record));
    });
  }

  observeVolume(name: string, options?: CallOptions): Promise<VolumeObservation | undefined> {
    return this.call(`cannot observe volume ${name}`, options, () => Promise.resolve(this.volumeOps.observeOne(name)));
  }

  observeJob(id: string, options?: CallOptions): Promise<JobObservation | undefined> {
    return this.call(`cannot observe job ${id}`, options, () => {
      const job = this.core.job(id);
      return Promise.resolve(job === undefined ? undefined : observeJob(job));
    });
  }

  deleteCopy(copy: CopyRef, options?: CallOptions): Promise<void> {
    return this.call(`cannot delete copy ${copy.name}`, options, () => this.copies.removeCopy(copy));
  }

  listCopies(options?: CallOptions): Promise<readonly CopyObservation[]> {
    return this.call("cannot list copies", options, () =>
      Promise.resolve([...this.core.catalog.copies()].flatMap((c) => this.core.observeCopy(c) ?? [])),
    );
  }

  subscribe(listener: JobListener): () => void {
    this.core.listeners.add(listener);
    return () => {
      this.core.listeners.delete(listener);
    };
  }

  createVolume(name: string, sizeBytes: number, options?: CallOptions): Promise<VolumeObservation> {
    return this.call(`cannot create volume ${name}`, options, () => this.volumeOps.create(name, sizeBytes));
  }

  resizeVolume(name: string, sizeBytes: number, options?: CallOptions): Promise<VolumeObservation> {
    return this.call(`cannot resize volume ${name}`, options, () => this.volumeOps.resize(name, sizeBytes));
  }

  deleteVolume(name: string, options?: CallOptions): Promise<void> {
    return this.call(`cannot delete volume ${name}`, options, () => this.volumeOps.remove(name));
  }

  readVolume(name: string, offset: number, length: number, options?: CallOptions): Promise<Buffer> {
    return this.call(`cannot read volume ${name}`, options, () => this.volumeOps.read(name, offset, length));
  }

  writeVolume(name: string, offset: number, data: Uint8Array, options?: CallOptions): Promise<void> {
    return this.call(`cannot write volume ${name}`, options, () => this.volumeOps.write(name, offset, data));
  }

  listVolumes(options?: CallOptions): Promise<readonly VolumeObservation[]> {
    return this.call("cannot list volumes", options, () => Promise.resolve(this.volumeOps.list()));
  }

  /** Stops running jobs where they are (the next open resumes them from their checkpoints) and releases the lock. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.timer);
    await this.jobs.close();
    await this.core.movers.close();
    await this.mutex.run(() => this.core.store.close());
    await this.core.writesDone();
    await this.core.closeJournal();
    await this.unlock();
  }

  /** `call`, then waits (outside the mutex) for the operation's catalog write to be durable before answering. */
  private async callDurable<T>(
    context: string,
    options: CallOptions | undefined,
    work: () => Promise<{ readonly copy: T; readonly durable: Promise<void> }>,
  ): Promise<T> {
    const { copy, durable } = await this.call(context, options, work);
    try {
      await durable;
    } catch (e: unknown) {
      throw withContext(context, e);
    }
    return copy;
  }

  private async call<T>(context: string, options: CallOptions | undefined, work: () => Promise<T>): Promise<T> {
    if (this.closed) throw new EngineError(`${context}: engine is closed`, { code: "Unavailable", kind: "final" });
    try {
      return await this.mutex.run(
        async () => {
          await this.jobs.collectSnapshots();
          await this.copies.expireDue();
          return work();
        },
        options?.signal,
        context,
      );
    } catch (e: unknown) {
      if (e instanceof EngineError && e.code === "Aborted") throw e;
      throw withContext(context, e);
    }
  }
}
