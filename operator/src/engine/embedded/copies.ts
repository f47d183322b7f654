// The copy operations of the embedded engine, each run under the engine mutex: create virtual and physical
// copies, start jobs on them, halt, delete, expire. They check what the array checks, in the array's order and
// with its codes (DOMAIN.md §2.2, §3.5, §4), then change the catalog and save it before returning.
// Idempotency: a create repeated with the same name, kind, source and owner returns the existing copy; a job
// asked for while the same operation is queued or running on the copy returns that job.
import { arrayError, EngineError } from "../errors.ts";
import { requireOwner, sameOwner } from "../ownership.ts";
import type {
  CopyObservation,
  CopyRef,
  CreateGroupVirtualCopyRequest,
  CreatePhysicalCopyRequest,
  CreateVirtualCopyRequest,
  HaltTarget,
  JobObservation,
  JobOperation,
  OwnerTag,
  StartJobRequest,
} from "../port.ts";
import { maxGroupMembers, type CopyPriority } from "../port.ts";
import type { CopyRecord, JobRecord } from "./catalog.ts";
import { observeJob, type Core } from "./core.ts";
import { isFinished, type Jobs } from "./jobs.ts";
import { checkLifetime, checkName, checkPriority, checkSize } from "./rules.ts";
import { move } from "./transitions.ts";
import type { LiveNode } from "./view.ts";

const hourMs = 3_600_000;

export class Copies {
  private readonly core: Core;
  private readonly jobs: Jobs;

  constructor(core: Core, jobs: Jobs) {
    this.core = core;
    this.jobs = jobs;
  }

  /**
   * Creates a virtual copy in memory; `durable` resolves once it is on disk (group commit, see core.ts): the caller
   * awaits it after releasing the mutex and only then reports success. An existing copy is durable once every write
   * taken so far is (it may be another caller's, still being written).
   */
  createVirtual(request: CreateVirtualCopyRequest): {
    readonly copy: CopyObservation;
    readonly durable: Promise<void>;
  } {
    checkName(request.name);
    checkLifetime(request.expirationHours, request.retentionHours);
    const existing = this.existing(request.name, "Virtual", request.source, request.owner);
    if (existing !== undefined) return { copy: existing, durable: this.core.settled() };
    const source = this.checkVirtualSource(request);
    return { copy: this.addVirtual(request, source), durable: this.core.saveLater() };
  }

  /**
   * Virtual copies of every member at one point in time: all checks first, then every snapshot in the same turn of
   * the mutex (no write can come between them) and one catalog commit, so either all are made or none.
   */
  createVirtualGroup(request: CreateGroupVirtualCopyRequest): {
    readonly copies: readonly CopyObservation[];
    readonly durable: Promise<void>;
  } {
    const sources = this.groupSources(request);
    checkLifetime(request.expirationHours, request.retentionHours);
    const members: CreateVirtualCopyRequest[] = sources.map((source, i) => ({
      name: `${request.namePrefix}${i}`,
      source,
      readOnly: request.readOnly,
      owner: request.owner,
      ...(request.expirationHours === undefined ? {} : { expirationHours: request.expirationHours }),
      ...(request.retentionHours === undefined ? {} : { retentionHours: request.retentionHours }),
    }));
    for (const m of members) checkName(m.name);
    const existing = members.map((m) => this.existing(m.name, "Virtual", m.source, m.owner));
    const found = existing.filter((e) => e !== undefined);
    if (found.length === members.length) return { copies: found, durable: this.core.settled() };
    if (found.length > 0) {
      throw arrayError(
        "EXISTENT_VOL",
        `${found.map((c) => c.name).join(", ")} already exist without the rest of the group`,
      );
    }
    const nodes = members.map((m) => this.checkVirtualSource(m));
    const copies = members.map((m, i) => this.addVirtual(m, nodes[i] ?? this.core.requireNode(m.source)));
    return { copies, durable: this.core.saveLater() };
  }

  /** The group's member volumes in order: a named set's own order (and exactly its members), else as given. */
  private groupSources(request: CreateGroupVirtualCopyRequest): readonly string[] {
    const { sources } = request;
    if (sources.length === 0) throw arrayError("INV_INPUT", "a group copy needs at least one volume");
    if (sources.length > maxGroupMembers)
      throw arrayError("INV_INPUT_EXCEEDS_RANGE", `a group copy takes at most ${maxGroupMembers} volumes`);
    if (new Set(sources).size !== sources.length) throw arrayError("INV_INPUT", "a volume is named twice in the group");
    if (request.volumeSet === undefined) return sources;
    const set = this.core.volumeSet(request.volumeSet);
    if (set === undefined) throw arrayError("NON_EXISTENT_SET", `volume set ${request.volumeSet} not found`);
    const wanted = new Set(sources);
    if (set.members.length !== wanted.size || !set.members.every((m) => wanted.has(m)))
      throw arrayError("INV_INPUT", `volume set ${request.volumeSet} does not hold exactly the group's volumes`);
    return set.members;
  }

  /** What the array checks before a virtual copy of `request.source`; the source, when all pass. */
  private checkVirtualSource(request: CreateVirtualCopyRequest): LiveNode {
    const source = this.core.requireNode(request.source);
    if (request.readOnly && source.record.readOnly) {
      throw arrayError(
        "INV_OPERATION_VV_READONLY_TO_READONLY_SNAP",
        `${request.source} is read-only: its virtual copies are read-write`,
      );
    }
    if (!request.readOnly && !source.record.readOnly) {
      throw arrayError("INV_INPUT_PARAM_CONFLICT", `${request.source} is read-write: its virtual copies are read-only`);
    }
    if (this.core.copyTargetState(source.record.name) !== undefined) {
      throw arrayError("IN_USE", `${request.source} is the target of a physical copy`);
    }
    if (this.core.restoringOnto(source.record.name) !== undefined) {
      throw arrayError(
        "INV_OPERATION_VV_PROMOTE_IN_PROGRESS",
        `a virtual copy is being promoted onto ${request.source}`,
      );
    }
    return source;
  }

  /** Adds the checked virtual copy to the catalog (not yet saved). */
  private addVirtual(request: CreateVirtualCopyRequest, source: LiveNode): CopyObservation {
    const now = this.core.now();
    const node = this.core.addNode({
      name: request.name,
      sizeBytes: source.record.sizeBytes,
      layout: request.readOnly ? "delta" : "overlay",
      parent: source.record.name,
      readOnly: request.readOnly,
      internal: false,
      ...(request.expirationHours === undefined ? {} : { expiresAt: now + request.expirationHours * hourMs }),
      ...(request.retentionHours === undefined ? {} : { retainedUntil: now + request.retentionHours * hourMs }),
    });
    // Creation is one metadata change, so ResyncInProgress is never observable: the copy is Idle when it exists.
    move("Virtual", "none", "ResyncInProgress");
    this.core.catalog.put("copies", {
      name: request.name,
      kind: "Virtual",
      owner: { ...request.owner },
      source: source.record.name,
      createdAt: now,
      online: false,
      saveSnapshot: false,
      sync: {
        copyType: "UnSyncAssoc",
        replicaType: "AfterDelta",
        syncState: move("Virtual", "ResyncInProgress", "Idle") as "Idle",
        whenSynced: now,
        percentSynced: 100,
        copyPriority: "NotManaged",
        savedSnapshot: undefined,
      },
      activeJob: undefined,
    });
    return this.observe(node.record.name);
  }

  async createPhysical(request: CreatePhysicalCopyRequest): Promise<{ copy: CopyObservation; job: JobObservation }> {
    checkName(request.name);
    if (request.online && request.saveSnapshot)
      throw arrayError("INV_INPUT_PARAM_CONFLICT", "saveSnapshot applies to offline copies only");
    if (request.online && request.priority !== undefined)
      throw arrayError("INV_INPUT_PARAM_CONFLICT", "priority applies to offline copies only");
    const priority = request.priority ?? "Same";
    checkPriority(priority);
    const existing = this.existing(request.name, "Physical", request.source, request.owner);
    if (existing !== undefined) {
      const job = this.core.job(existing.activeJob ?? this.core.lastJobId(request.name) ?? "");
      if (job === undefined)
        throw new EngineError(`copy ${request.name} exists but its job is gone`, { code: "InvalidState" });
      return { copy: existing, job: observeJob(job) };
    }
    const source = this.core.requireNode(request.source, "source volume");
    this.checkSourceReady(source);
    const target = request.online ? this.createOnlineTarget(request, source) : this.checkOfflineTarget(request, source);
    target.record.contentComplete = false;
    // The record of an earlier, finished copy onto this target is replaced by the new one.
    const record = this.core.catalog.put("copies", {
      name: request.name,
      kind: "Physical",
      owner: { ...request.owner },
      source: source.record.name,
      createdAt: this.core.now(),
      online: request.online,
      saveSnapshot: request.saveSnapshot,
      sync: {
        copyType: request.saveSnapshot ? "UnSyncAssoc" : "UnSyncUnAssoc",
        replicaType: "FullCopy",
        syncState: move("Physical", "none", "Initialized") as "Initialized",
        whenSynced: undefined,
        percentSynced: 0,
        copyPriority: priority,
        savedSnapshot: undefined,
      },
      activeJob: undefined,
    });
    const job = this.submit(record, "Copy", priority, this.pointInTime(source), undefined);
    await this.core.save();
    await this.jobs.startDue();
    return { copy: this.observe(request.name), job: observeJob(job) };
  }

  async startJob(request: StartJobRequest): Promise<JobObservation> {
    const record = this.core.copy(request.copy);
    if (record === undefined) throw arrayError("NON_EXISTENT_VOL", `copy ${request.copy} not found`);
    requireOwner(`copy ${request.copy}`, record.owner, request.owner);
    const active = this.core.job(record.activeJob ?? "");
    if (active !== undefined) {
      if (active.operation === request.operation) return observeJob(active);
      throw arrayError(
        record.kind === "Physical" ? "INV_OPERATION_VV_PCOPY_IN_PROGRESS" : "INV_OPERATION_VV_PROMOTE_IN_PROGRESS",
        `job ${active.id} (${active.operation}) is running on ${request.copy}`,
      );
    }
    if (this.core.workers.has(this.core.lastJobId(request.copy) ?? "")) {
      throw arrayError("INV_OPERATION_VV_IS_BUSY", `the last job on ${request.copy} is still stopping`);
    }
    if (request.priority !== undefined) checkPriority(request.priority);
    const sync = record.sync;
    const kindNeeded = request.operation === "Restore" ? "Virtual" : "Physical";
    if (record.kind !== kindNeeded)
      throw arrayError("INV_INPUT", `${request.operation} applies to ${kindNeeded.toLowerCase()} copies only`);
    if (sync === undefined || (kindNeeded === "Physical" && sync.copyType !== "UnSyncAssoc")) {
      throw arrayError("NON_EXISTENT_VVCOPY", `${request.copy} is no longer associated with ${record.source}`);
    }
    const priority: CopyPriority = request.priority ?? sync.copyPriority;
    switch (request.operation) {
      case "Detach":
        return this.detach(record);
      case "Restore":
        return this.startRestore(record);
      case "Resync":
      case "StartCopy": {
        if (request.operation === "Resync" && sync.syncState === "Broken")
          throw arrayError("VV_IN_STALE_STATE", `${request.copy} is Broken and cannot be resynchronised`);
        const source = this.core.requireNode(record.source, "source volume");
        const target = this.core.requireNode(record.name);
        this.checkSourceReady(source);
        if (target.record.sizeBytes < source.record.sizeBytes)
          throw arrayError(
            "INV_OPERATION_VV_COPY_PARENT_TOO_BIG",
            `${record.source} has grown larger than ${record.name}`,
          );
        sync.syncState = move(
          "Physical",
          sync.syncState,
          request.operation === "Resync" ? "ResyncInProgress" : "CopyInProgress",
        ) as "ResyncInProgress";
        sync.percentSynced = 0;
        target.record.contentComplete = false;
        const job = this.submit(record, request.operation, priority, this.pointInTime(source), sync.savedSnapshot);
        await this.core.save();
        await this.jobs.startDue();
        return observeJob(job);
      }
    }
  }

  async halt(target: HaltTarget): Promise<JobObservation | undefined> {
    let job: JobRecord | undefined;
    if ("job" in target) {
      job = this.core.job(target.job);
      if (job === undefined) throw arrayError("NON_EXISTENT_TASK", `job ${target.job} not found`);
      // A finished job is returned unchanged: nothing is touched, so whose it was does not matter.
      if (isFinished(job)) return observeJob(job);
      requireOwner(`copy ${job.copy}`, this.core.copy(job.copy)?.owner, target.owner);
    } else {
      const record = this.core.copy(target.copy);
      job = this.core.job(record?.activeJob ?? "");
      if (record === undefined || job === undefined) return undefined;
      requireOwner(`copy ${target.copy}`, record.owner, target.owner);
    }
    await this.jobs.halt(job);
    return observeJob(job);
  }

  /** Deletes our copy after the owner check and the array's checks; gone already is success. */
  async removeCopy(copy: CopyRef): Promise<void> {
    if (this.core.userNode(copy.name) === undefined) return;
    // A plain volume under the name is no copy of anyone's: refused like another owner's copy.
    requireOwner(`copy ${copy.name}`, this.core.copy(copy.name)?.owner, copy.owner);
    await this.remove(copy.name, false);
  }

  /** Deletes a copy (or, from deleteVolume, any volume) after the array's checks; gone already is success. */
  async remove(name: string, asVolume: boolean): Promise<void> {
    const record = this.core.copy(name);
    const node = this.core.userNode(name);
    if (node === undefined || (record === undefined && !asVolume)) return;
    if (record?.activeJob !== undefined || this.core.workers.has(this.core.lastJobId(name) ?? "")) {
      throw arrayError(
        record?.kind === "Virtual" ? "INV_OPERATION_VV_PROMOTE_IN_PROGRESS" : "INV_OPERATION_VV_PCOPY_IN_PROGRESS",
        `a job is running on ${name}`,
      );
    }
    if (this.core.restoringOnto(name) !== undefined)
      throw arrayError("INV_OPERATION_VV_PROMOTE_IN_PROGRESS", `a virtual copy is being promoted onto ${name}`);
    const retained = node.record.retainedUntil;
    if (retained !== undefined && retained > this.core.now()) {
      throw arrayError("RETAINED", `${name} is retained until ${new Date(retained).toISOString()}`);
    }
    const children = this.core.children(name);
    if (children.length > 0) {
      const visible = children.filter((c) => !c.internal).map((c) => c.name);
      const why = visible.length > 0 ? `virtual copies ${visible.join(", ")}` : "a physical copy's saved snapshot";
      throw arrayError(children.some((c) => c.readOnly) ? "HAS_RO_CHILD" : "HAS_CHILD", `${name} has ${why}`);
    }
    const saved = record?.sync?.savedSnapshot;
    if (saved !== undefined) await this.core.removeNode(saved);
    await this.core.removeNode(name);
  }

  /** Deletes virtual copies whose expiration time has passed; one that cannot go yet (children) waits. */
  async expireDue(): Promise<void> {
    const now = this.core.now();
    const catalog = this.core.catalog;
    if (catalog.expiryHint <= now) {
      const due = [...catalog.nodes()].filter((n) => n.expiresAt !== undefined && n.expiresAt <= now && !n.internal);
      for (const n of due) {
        await this.remove(n.name, true).catch(() => undefined);
      }
      // One that cannot go yet is tried again at most once a second, not at every call.
      let next = Number.POSITIVE_INFINITY;
      for (const n of catalog.nodes()) if (!n.internal && n.expiresAt !== undefined) next = Math.min(next, n.expiresAt);
      catalog.expiryHint = Math.max(next, now + 1000);
    }
    // Finished jobs go after a day, like the array's tasks, except each copy's last one (an idempotent create returns
    // it).
    const horizon = now - 24 * hourMs;
    const old = (j: JobRecord): boolean => isFinished(j) && (j.endTime ?? now) <= horizon;
    if (![...catalog.jobs()].some(old)) return;
    if (catalog.dropJobs(old) > 0) await this.core.save();
  }

  observe(name: string): CopyObservation {
    const record = this.core.copy(name);
    const seen = record === undefined ? undefined : this.core.observeCopy(record);
    if (seen === undefined) throw new EngineError(`internal: copy ${name} has no volume`, { code: "Internal" });
    return seen;
  }

  private existing(
    name: string,
    kind: CopyRecord["kind"],
    source: string,
    owner: OwnerTag,
  ): CopyObservation | undefined {
    const record = this.core.copy(name);
    if (record !== undefined && record.kind === kind && record.source === source && sameOwner(record.owner, owner)) {
      return this.observe(name);
    }
    if (kind === "Physical" && record !== undefined && this.isHistory(record)) return undefined;
    if (record !== undefined || this.core.store.get(name) !== undefined) {
      if (!(kind === "Physical" && record === undefined)) throw arrayError("EXISTENT_VOL", `${name} already exists`);
    }
    return undefined;
  }

  /**
   * A physical copy whose association ended (completed unassociated, detached, halted) and that runs nothing: its
   * target is an independent base volume, as on the array, so a new offline copy may write onto it.
   */
  private isHistory(record: CopyRecord): boolean {
    return (
      record.kind === "Physical" &&
      record.sync === undefined &&
      record.activeJob === undefined &&
      !this.core.workers.has(this.core.lastJobId(record.name) ?? "")
    );
  }

  private checkSourceReady(source: LiveNode): void {
    if (this.core.copyTargetState(source.record.name) === "copying") {
      throw arrayError(
        "INV_OPERATION_VV_PCOPY_IN_PROGRESS",
        `${source.record.name} is being written by a physical copy`,
      );
    }
    if (this.core.restoringOnto(source.record.name) !== undefined) {
      throw arrayError(
        "INV_OPERATION_VV_PROMOTE_IN_PROGRESS",
        `a virtual copy is being promoted onto ${source.record.name}`,
      );
    }
  }

  private createOnlineTarget(request: CreatePhysicalCopyRequest, source: LiveNode): LiveNode {
    if (this.core.store.get(request.name) !== undefined)
      throw arrayError("EXISTENT_VOL", `${request.name} already exists`);
    const size = request.sizeBytes ?? source.record.sizeBytes;
    checkSize(size);
    if (size < source.record.sizeBytes)
      throw arrayError("INV_OPERATION_VV_COPY_PARENT_TOO_BIG", `${request.source} is larger than ${size} bytes`);
    return this.core.addNode({
      name: request.name,
      sizeBytes: size,
      layout: "overlay",
      parent: undefined,
      readOnly: false,
      internal: false,
    });
  }

  private checkOfflineTarget(request: CreatePhysicalCopyRequest, source: LiveNode): LiveNode {
    const target = this.core.requireNode(request.name, "destination volume");
    if (target === source)
      throw arrayError("INV_OPERATION_VV_COPY_TO_SELF", `${request.name} cannot be copied onto itself`);
    if (target.record.parent !== undefined)
      throw arrayError("INV_OPERATION_VV_NON_BASE_VOLUME", `${request.name} is not a base volume`);
    if (target.record.sizeBytes < source.record.sizeBytes)
      throw arrayError("INV_OPERATION_VV_COPY_PARENT_TOO_BIG", `${request.source} is larger than ${request.name}`);
    if (this.core.children(request.name).length > 0)
      throw arrayError("HAS_CHILD", `${request.name} has virtual copies`);
    if (this.core.restoringOnto(request.name) !== undefined)
      throw arrayError("INV_OPERATION_VV_PROMOTE_IN_PROGRESS", `a virtual copy is being promoted onto ${request.name}`);
    return target;
  }

  /** The internal snapshot a copy job reads: the source as it is now, whatever is written to it meanwhile. */
  private pointInTime(source: LiveNode): string {
    const name = `#pit-${this.core.catalog.nextId}`;
    this.core.addNode({
      name,
      sizeBytes: source.record.sizeBytes,
      layout: "delta",
      parent: source.record.name,
      readOnly: true,
      internal: true,
    });
    return name;
  }

  private submit(
    record: CopyRecord,
    operation: JobOperation,
    priority: CopyPriority,
    pointInTime: string | undefined,
    previous: string | undefined,
  ): JobRecord {
    const job: JobRecord = {
      id: String(this.core.catalog.nextJob++),
      operation,
      copy: record.name,
      priority,
      jobState: "New",
      operationalStatus: ["Dormant"],
      percentComplete: 0,
      errorCode: 0,
      errorDescription: "",
      timeSubmitted: this.core.now(),
      startTime: undefined,
      endTime: undefined,
      pointInTime,
      previousSnapshot: previous,
    };
    const stored = this.core.catalog.put("jobs", job);
    record.activeJob = stored.id;
    return stored;
  }

  private async detach(record: CopyRecord): Promise<JobObservation> {
    const sync = record.sync;
    if (sync === undefined) throw arrayError("NON_EXISTENT_VVCOPY", `${record.name} is not associated`);
    move("Physical", sync.syncState, "gone");
    const job = this.submit(record, "Detach", sync.copyPriority, undefined, sync.savedSnapshot);
    job.jobState = "Completed";
    job.operationalStatus = ["Completed", "OK"];
    job.percentComplete = 100;
    job.startTime = job.endTime = this.core.now();
    record.activeJob = undefined;
    record.sync = undefined;
    if (sync.savedSnapshot !== undefined) await this.core.removeNode(sync.savedSnapshot);
    await this.core.save();
    this.core.emit("Started", job);
    this.core.emit("Finished", job);
    return observeJob(job);
  }

  private async startRestore(record: CopyRecord): Promise<JobObservation> {
    const sync = record.sync;
    const snapshot = this.core.requireNode(record.name);
    const target = this.core.restoreTarget(record.name);
    if (sync === undefined || target === undefined)
      throw arrayError("NON_EXISTENT_VOL", `the base of ${record.name} not found`);
    if (target.record.sizeBytes > snapshot.record.sizeBytes) {
      throw arrayError(
        "INV_OPERATION_PARENT_SIZE_HAS_INCREASED",
        `${target.record.name} has grown since ${record.name} was taken`,
      );
    }
    if (this.core.restoringOnto(target.record.name) !== undefined)
      throw arrayError("INV_OPERATION_VV_PROMOTE_IN_PROGRESS", `a promote onto ${target.record.name} is running`);
    if (this.core.copyTargetState(target.record.name) !== undefined)
      throw arrayError("IN_USE", `${target.record.name} is the target of a physical copy`);
    sync.syncState = move("Virtual", sync.syncState, "RestoreInProgress") as "RestoreInProgress";
    const job = this.submit(record, "Restore", "Same", undefined, undefined);
    await this.core.save();
    await this.jobs.startDue();
    return observeJob(job);
  }
}
