// Jobs: the queue of physical copies (at most maxConcurrentCopies run; the rest wait in JobState New, their copy
// in SyncState Initialized, highest priority first), the workers that run copies and restores, and how a job
// ends. Every end goes through one function per outcome that sets the job and the copy's SyncState together
// (transitions.ts) and is skipped when the job already ended, so a halt racing a worker's last chunk is harmless.
// Crash recovery: a job that was running when the process died (or the engine closed) is still Running at the next
// open, as an array's task goes on, and its worker starts again from the job's checkpoint: the point below which
// its block set is on the target, flushed and recorded in the target's log (copier.ts). Its block set is computed
// again; it can only have grown, by blocks that read the same at the job's point in time as on the target, so
// copying them again is harmless. Queued jobs simply run (their point-in-time snapshot is durable). Internal
// snapshots no copy or unfinished job refers to are collected after each job's worker ends, after a halt or
// detach, and at open (a crash may leave one).
import { messageOf } from "../errors.ts";
import { finishedJobStates } from "../port.ts";
import { Bitmap } from "./bitmap.ts";
import { blockBytes, type JobRecord } from "./catalog.ts";
import { copyBlocks } from "./copier.ts";
import type { Core } from "./core.ts";
import type { Mutex } from "./mutex.ts";
import { priorityRank } from "./rules.ts";
import { move } from "./transitions.ts";
import { blocksOf, candidates, changedSince, resolve, type LiveNode } from "./view.ts";

function isCopyJob(job: JobRecord): boolean {
  return job.operation === "Copy" || job.operation === "Resync" || job.operation === "StartCopy";
}

export function isFinished(job: JobRecord): boolean {
  return finishedJobStates.includes(job.jobState);
}

export class Jobs {
  private readonly core: Core;
  private readonly mutex: Mutex;
  private readonly running = new Set<Promise<void>>();
  private closing = false;

  constructor(core: Core, mutex: Mutex) {
    this.core = core;
    this.mutex = mutex;
  }

  /** Starts what may start. Call under the mutex. */
  async startDue(): Promise<void> {
    if (this.closing) return;
    const jobs = [...this.core.catalog.jobs()];
    for (const job of jobs) if (job.operation === "Restore" && job.jobState === "New") await this.start(job);
    const busy = () =>
      jobs.filter((j) => isCopyJob(j) && (j.jobState === "Starting" || j.jobState === "Running")).length;
    const queued = jobs
      .filter((j) => isCopyJob(j) && j.jobState === "New")
      .sort((a, b) => priorityRank(a.priority) - priorityRank(b.priority) || Number(a.id) - Number(b.id));
    for (const job of queued) {
      if (busy() >= this.core.maxConcurrentCopies) break;
      await this.start(job);
    }
  }

  /** Starts again what a dead process (or a closed engine) left running. Call once at open, before anything starts. */
  async recover(): Promise<void> {
    for (const job of this.core.catalog.jobs()) {
      if (job.jobState === "Starting" || job.jobState === "Running") {
        job.jobState = "Running";
        this.launch(job, true);
      }
    }
    await this.collectSnapshots();
  }

  /**
   * Removes internal snapshots nothing refers to any more (a replaced resync snapshot, a finished job's). Under the
   * mutex.
   */
  async collectSnapshots(): Promise<void> {
    const internal = this.core.catalog.internalNodes();
    if (internal.length === 0) return;
    const keep = new Set<string>();
    for (const c of this.core.catalog.copies()) if (c.sync?.savedSnapshot !== undefined) keep.add(c.sync.savedSnapshot);
    for (const j of this.core.catalog.jobs()) {
      if (isFinished(j) && !this.core.workers.has(j.id)) continue;
      if (j.pointInTime !== undefined) keep.add(j.pointInTime);
      if (j.previousSnapshot !== undefined) keep.add(j.previousSnapshot);
    }
    const unused = internal.filter((n) => !keep.has(n.name)).sort((a, b) => b.seq - a.seq);
    for (const n of unused) if (this.core.children(n.name).length === 0) await this.core.removeNode(n.name);
  }

  /** Halts a queued or running job (call under the mutex); the worker notices at its next chunk. */
  async halt(job: JobRecord): Promise<void> {
    if (isFinished(job)) return;
    this.end(job, "Terminated", 0, "");
    const record = this.core.copy(job.copy);
    const target = this.core.store.get(job.copy);
    if (isCopyJob(job)) {
      if (record?.sync !== undefined) move("Physical", record.sync.syncState, "gone");
      if (record !== undefined) record.sync = undefined;
      if (target !== undefined) target.record.contentComplete = false;
    } else if (record?.sync !== undefined) {
      record.sync.syncState = move("Virtual", record.sync.syncState, "Broken") as "Broken";
      const onto = this.core.restoreTarget(job.copy);
      if (onto !== undefined) onto.record.contentComplete = false;
    }
    this.core.workers.get(job.id)?.abort();
    await this.core.save();
    this.core.emit("Finished", job);
    // A running worker may still read its snapshot; it collects when it stops.
    if (!this.core.workers.has(job.id)) await this.collectSnapshots();
  }

  async close(): Promise<void> {
    this.closing = true;
    for (const controller of this.core.workers.values()) controller.abort();
    await Promise.all(this.running);
  }

  private async start(job: JobRecord): Promise<void> {
    const record = this.core.copy(job.copy);
    job.jobState = "Running";
    job.operationalStatus = ["OK"];
    job.startTime = this.core.now();
    if (record?.sync?.syncState === "Initialized")
      record.sync.syncState = move("Physical", "Initialized", "ResyncInProgress") as "ResyncInProgress";
    await this.core.save();
    this.core.emit("Started", job);
    this.launch(job, false);
  }

  /** Runs the job's worker in the background; `resume`: from the checkpoint a previous worker left. */
  private launch(job: JobRecord, resume: boolean): void {
    const controller = new AbortController();
    this.core.workers.set(job.id, controller);
    const done = this.work(job, controller.signal, resume).finally(() => {
      this.running.delete(done);
    });
    this.running.add(done);
  }

  private async work(job: JobRecord, signal: AbortSignal, resume: boolean): Promise<void> {
    try {
      if (isCopyJob(job)) await this.copy(job, signal, resume);
      else await this.restore(job, signal, resume);
    } catch (e: unknown) {
      const code = (e as NodeJS.ErrnoException).code === "ENOSPC" ? 24 : 1;
      const description = messageOf(e);
      await this.mutex.run(() => this.fail(job, code, description)).catch(() => undefined);
    }
    // The worker's I/O is over: the copy may be deleted or started again at once.
    this.core.workers.delete(job.id);
    await this.mutex
      .run(async () => {
        await this.collectSnapshots();
        await this.startDue();
      })
      .catch(() => undefined);
  }

  private progress(job: JobRecord): (done: number, total: number) => void {
    return (done, total) => {
      const percent = total === 0 ? 100 : Math.floor((done * 100) / total);
      if (percent <= job.percentComplete || isFinished(job)) return;
      job.percentComplete = Math.min(percent, 99);
      const sync = this.core.copy(job.copy)?.sync;
      if (sync !== undefined) sync.percentSynced = job.percentComplete;
      this.core.emit("Progress", job);
    };
  }

  private async copy(job: JobRecord, signal: AbortSignal, resume: boolean): Promise<void> {
    const store = this.core.store;
    const plan = await this.mutex.run(async () => {
      const source = store.get(job.pointInTime ?? "");
      const target = store.get(job.copy);
      if (source === undefined || target === undefined) throw new Error(`the copy's point in time or target is gone`);
      const full = job.operation !== "Resync";
      const blocks = full ? candidates(store.view(source)) : this.changedBlocks(job, source);
      const startAt = resume ? resumePoint(job, target) : 0;
      // A full copy's target is reset once; a resumed one keeps what its checkpoints recorded.
      if (full && startAt === 0) await store.reset(target);
      await this.markIncomplete(target);
      return { source, target, blocks, full, startAt };
    });
    const outcome = await this.core.movers.with((mover) =>
      copyBlocks({
        ...plan,
        store,
        mutex: this.mutex,
        mover,
        signal,
        progress: this.progress(job),
        flushBytes: this.core.flushBytes,
        checkpoint: (below, held, freed) =>
          this.mutex.run(async () => {
            if (!isFinished(job)) await store.recordCopied(plan.target, held, freed, { job: job.id, below });
          }),
      }),
    );
    if (outcome === undefined) return;
    await store.syncCopyData(plan.target);
    await this.mutex.run(async () => {
      if (isFinished(job)) return;
      await store.recordCopied(plan.target, outcome.held, outcome.freed);
      await this.succeedCopy(job, plan.target);
    });
  }

  /**
   * The volume a job writes is incomplete, on disk, before its first write. A submitted copy job already saved it so
   * (as a resumed job did), which spares the job a catalog write.
   */
  private async markIncomplete(written: LiveNode): Promise<void> {
    if (!written.record.contentComplete) return;
    written.record.contentComplete = false;
    await this.core.save();
  }

  /** Blocks of the source written since the previous sync, plus what it grew by. */
  private changedBlocks(job: JobRecord, pit: LiveNode): Bitmap {
    const previous = this.core.store.get(job.previousSnapshot ?? "");
    const parent = this.core.store.get(pit.record.parent ?? "");
    if (previous === undefined || parent === undefined) throw new Error("the saved snapshot of the last sync is gone");
    const blocks = changedSince(previous, parent);
    const grownFrom = blocksOf(previous.record.sizeBytes);
    for (const r of candidates(this.core.store.view(pit)).ranges()) {
      const start = Math.max(r.start, grownFrom);
      if (start < r.start + r.count) blocks.setRange(start, r.start + r.count - start);
    }
    return blocks;
  }

  /** What a restore writes: the blocks where the virtual copy differs from the volume it is promoted onto. */
  private planRestore(job: JobRecord, resume: boolean) {
    return this.mutex.run(async () => {
      const store = this.core.store;
      const snapshot = store.get(job.copy);
      const target = this.core.restoreTarget(job.copy);
      if (snapshot === undefined || target === undefined) throw new Error("the virtual copy or its base is gone");
      const readOnly = snapshot.record.layout === "delta" ? snapshot : store.get(snapshot.record.parent ?? "");
      if (readOnly === undefined) throw new Error("the virtual copy's parent is gone");
      const blocks = changedSince(readOnly, target);
      if (readOnly !== snapshot) blocks.union(snapshot.alloc);
      await this.markIncomplete(target);
      const startAt = resume ? resumePoint(job, target) : 0;
      const ranges = [...blocks.ranges(blocksOf(snapshot.record.sizeBytes))];
      return { snapshot, target, ranges, startAt };
    });
  }

  private async restore(job: JobRecord, signal: AbortSignal, resume: boolean): Promise<void> {
    const store = this.core.store;
    const plan = await this.planRestore(job, resume);
    const total = plan.ranges.reduce((n, r) => n + r.count, 0);
    const progress = this.progress(job);
    let sinceCheckpoint = 0;
    let done = plan.ranges.reduce((n, r) => n + Math.min(Math.max(plan.startAt - r.start, 0), r.count), 0);
    if (done > 0) progress(done, total);
    for (const range of plan.ranges) {
      const end = range.start + range.count;
      const from = Math.min(Math.max(range.start, plan.startAt), end);
      for (let start = from; start < end; start += 128) {
        const count = Math.min(128, end - start);
        sinceCheckpoint += count;
        // Its writes are durable as they return: a resume point every flushBytes costs one log append.
        const checkpoint = sinceCheckpoint * blockBytes >= this.core.flushBytes;
        if (checkpoint) sinceCheckpoint = 0;
        const stop = await this.mutex.run(async () => {
          if (signal.aborted || isFinished(job)) return true;
          await this.restoreChunk(plan.snapshot, plan.target, start, count);
          // The chunk's writes are durable (synced, or journaled for redo at open) before the checkpoint names them.
          if (checkpoint) {
            const none = new Bitmap();
            await store.recordCopied(plan.target, none, none, { job: job.id, below: start + count });
          }
          return false;
        });
        if (stop) return;
        done += count;
        progress(done, total);
      }
    }
    await this.mutex.run(async () => {
      if (isFinished(job)) return;
      plan.target.record.contentComplete = true;
      const sync = this.core.copy(job.copy)?.sync;
      if (sync !== undefined) {
        sync.syncState = move("Virtual", sync.syncState, "Idle") as "Idle";
        sync.whenSynced = this.core.now();
      }
      this.end(job, "Completed", 0, "");
      await this.core.save();
      this.core.emit("Finished", job);
    });
  }

  /** Writes the snapshot's view of `count` blocks from `start` onto the restored volume. Under the mutex. */
  private async restoreChunk(snapshot: LiveNode, target: LiveNode, start: number, count: number): Promise<void> {
    const store = this.core.store;
    const view = store.view(snapshot);
    const zeros = Array.from({ length: count }, (_, i) => resolve(view, start + i).in === "zero");
    for (let i = 0; i < count;) {
      let n = 1;
      while (i + n < count && zeros[i + n] === zeros[i]) n++;
      if (zeros[i] === true) await store.zeroBlocks(target, start + i, n);
      else {
        const buf = Buffer.allocUnsafe(n * blockBytes);
        await store.readBlocks(view, start + i, n, buf);
        await store.writeBlocks(target, start + i, buf);
      }
      i += n;
    }
  }

  private async succeedCopy(job: JobRecord, target: LiveNode): Promise<void> {
    const record = this.core.copy(job.copy);
    target.record.contentComplete = true;
    const sync = record?.sync;
    if (record !== undefined && sync !== undefined) {
      if (sync.copyType === "UnSyncUnAssoc") {
        move("Physical", sync.syncState, "gone");
        record.sync = undefined;
      } else {
        sync.syncState = move("Physical", sync.syncState, "Frozen") as "Frozen";
        sync.whenSynced = this.core.now();
        sync.percentSynced = 100;
        sync.savedSnapshot = job.pointInTime;
      }
    }
    this.end(job, "Completed", 0, "");
    await this.core.save();
    this.core.emit("Finished", job);
  }

  /** Call under the mutex. */
  private async fail(job: JobRecord, code: number, description: string): Promise<void> {
    if (isFinished(job)) return;
    this.end(job, "Exception", code, description);
    const record = this.core.copy(job.copy);
    if (record?.sync !== undefined) {
      record.sync.syncState = move(record.kind, record.sync.syncState, "Broken") as "Broken";
      if (record.kind === "Physical") record.sync.savedSnapshot = undefined;
      // An unassociated copy's association lives only while it copies (CIM UnSyncUnAssoc): a failed one ends as a
      // halted one does, its target incomplete, so nothing stays associated with what may be a user's volume.
      if (record.kind === "Physical" && record.sync.copyType === "UnSyncUnAssoc") {
        move("Physical", "Broken", "gone");
        record.sync = undefined;
      }
    }
    const damaged = isCopyJob(job) ? this.core.store.get(job.copy) : this.core.restoreTarget(job.copy);
    if (damaged !== undefined) damaged.record.contentComplete = false;
    await this.core.save();
    this.core.emit("Finished", job);
  }

  private end(
    job: JobRecord,
    state: "Completed" | "Exception" | "Terminated",
    code: number,
    description: string,
  ): void {
    job.jobState = state;
    job.operationalStatus =
      state === "Completed"
        ? ["Completed", "OK"]
        : state === "Exception"
          ? ["Completed", "Error"]
          : ["Completed", "Aborted"];
    if (state === "Completed") job.percentComplete = 100;
    job.errorCode = code;
    job.errorDescription = description;
    job.endTime = this.core.now();
    const record = this.core.copy(job.copy);
    if (record?.activeJob === job.id) record.activeJob = undefined;
  }
}

/** Where a resumed job starts: its checkpoint on the volume it writes, if that volume holds one of this job's. */
function resumePoint(job: JobRecord, written: LiveNode): number {
  return written.checkpoint?.job === job.id ? written.checkpoint.below : 0;
}
