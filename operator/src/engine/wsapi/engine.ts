// The WSAPI engine: the port over an HPE 3PAR / Primera / Alletra array's REST API (DOMAIN.md §3). It owns one
// session (client.ts) and keeps nothing the array does not: ownership lives in the object's comment
// (../owner-tag.ts), state in volumes and tasks (observe.ts), so a restarted operator sees what the array sees.
// Invariants:
// - Calls on one copy name run in call order (KeyedQueue); different copies run concurrently.
// - A create is sent once: an answer of EXISTENT_VOL, or a lost answer, is resolved by observing the array
//   (our tag and source → the existing copy; another owner → 22; nothing there → the uncertain error).
// - Offline destinations get our tag (other comment lines kept) before the copy is asked for, so a crash in
//   between leaves a tagged base volume that the next create takes over, never an untagged copy.
// - Nothing is deleted, stopped or started on a volume before the driver has read it and found our owner tag
//   with the owner the caller named (ownership.ts), whatever a query or a task list said. No delete follows a
//   server-side filter: the array may ignore one (some servers do) and answer with every volume.
// - Online stop is cancel + wait + delete of the destination and then of the internal snapshots the array made
//   for it, found as HPE's client finds them: the destination's copyOf, and that snapshot's copyOf. Each must
//   be an untagged virtual copy, and the chain must lead back to the copy's source; otherwise they are left
//   (logged), since a leaked snapshot is better than a deleted volume that was not ours.
// - Only copy tasks (array.ts) are jobs. Detach has no task on the array; its Completed job is kept in memory.
// - Load on the array: while a copy task runs, its controllers poll. One GET /tasks serves every poll (array.ts),
//   a job is read from that list (GET /tasks/<id> only when the list lacks it), and a copy's volume is read again
//   only when its tasks changed state, we wrote anything, or quietMaxAgeMs passed: while nothing changes, a
//   running copy costs no GET of its own.
import { abortedError, arrayError, EngineError, withContext } from "../errors.ts";
import { requireOwner, sameOwner } from "../ownership.ts";
import type {
  CallOptions,
  Capabilities,
  CopyObservation,
  CopyRef,
  CreateGroupVirtualCopyRequest,
  CreatePhysicalCopyRequest,
  CreateVirtualCopyRequest,
  Engine,
  HaltTarget,
  JobListener,
  JobObservation,
  OwnerTag,
  StartJobRequest,
  VolumeObservation,
  VolumeOps,
  VolumeSetObservation,
} from "../port.ts";
import { createGroup, observeSet } from "./groups.ts";

import { ArrayApi, type RecordKind } from "./array.ts";
import { WsapiClient, type WsapiClientOptions } from "./client.ts";
import { named, unnamed } from "./diagnose.ts";
import { TaskPoller } from "../task-poller.ts";
import { KeyedQueue } from "./limiter.ts";
import { isCopyTask, observeTask, observeVolumeCopy, tasksOn, wsapiPriority } from "./observe.ts";
import { observe as observeVolume } from "./volumes.ts";
import { parseTag, withTag, type CopyTag } from "../owner-tag.ts";
import { copyTypes, taskStatus, taskTypes, type Task, type Volume } from "./schemas.ts";

export interface WsapiEngineOptions extends WsapiClientOptions {
  /** CPG in which online copies create their destination. */
  readonly cpg: string;
  readonly snapCPG?: string;
  /** Poll interval for job indications and for waiting on a cancelled online copy. */
  readonly pollIntervalMs?: number;
  /** A data path for tests (the array has none over REST): makes capabilities().volumes true. */
  readonly volumes?: (api: ArrayApi) => VolumeOps;
  /** Called once per malformed list member the driver skipped (for a metric). */
  readonly onMalformed?: (kind: RecordKind) => void;
  /** How long one GET /tasks answer serves later reads (ArrayApi; default 250 ms). */
  readonly tasksTtlMs?: number;
}

type Signal = AbortSignal | undefined;

/** The longest a volume read serves polls of a running copy whose tasks did not change. */
const quietMaxAgeMs = 30_000;

interface QuietVolume {
  readonly volume: Volume;
  /** The ids and statuses of its tasks when it was read. */
  readonly tasks: string;
  readonly writes: number;
  readonly at: number;
}

export function openWsapiEngine(options: WsapiEngineOptions): WsapiEngine {
  return new WsapiEngine(options);
}

export class WsapiEngine implements Engine {
  readonly volumes: VolumeOps | undefined;
  readonly #api: ArrayApi;
  readonly #client: WsapiClient;
  readonly #opts: WsapiEngineOptions;
  readonly #order = new KeyedQueue();
  readonly #detached = new Map<string, JobObservation>();
  readonly #quiet = new Map<string, QuietVolume>();
  readonly #poller: TaskPoller;

  constructor(opts: WsapiEngineOptions) {
    this.#opts = opts;
    this.#client = new WsapiClient(opts);
    this.#api = new ArrayApi(this.#client, {
      logger: opts.logger,
      onMalformed: opts.onMalformed,
      tasksTtlMs: opts.tasksTtlMs,
    });
    this.volumes = opts.volumes?.(this.#api);
    this.#poller = new TaskPoller(async () => {
      const all = await this.#api.tasks(undefined);
      return all.map((t) => observeTask(t, tasksOn(t.name, all)));
    }, opts.pollIntervalMs ?? 1000);
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
      maxConcurrentPhysicalCopies: 2,
      maxNameLength: 31,
      indications: false,
      volumes: this.volumes !== undefined,
      groupVirtualCopies: true,
      // The HPE CSI driver's CSP for these arrays takes a volume over by name (importVolumeName; docs/populator.md).
      csiImport: true,
      // The HPE CSI driver's CSP for these arrays names a PV's volume pvc-<uid>, cut to 31 (docs/sources.md).
      csiVolumeHandle: "HPE3PARCSP",
      createsMayLandLate: true,
    };
  }

  createVirtualCopy(request: CreateVirtualCopyRequest, options?: CallOptions): Promise<CopyObservation> {
    return this.#call(`cannot create virtual copy ${request.name}`, request.name, options, async (signal) => {
      const { expirationHours: exp, retentionHours: ret } = request;
      if (exp !== undefined && ret !== undefined && ret > exp) {
        throw arrayError("INV_INPUT_RETAIN_GT_EXPIRE", `retention ${ret} h is above expiration ${exp} h`);
      }
      const tag: CopyTag = {
        kind: "Virtual",
        source: request.source,
        online: false,
        saveSnapshot: false,
        owner: request.owner,
      };
      const parameters = {
        name: request.name,
        readOnly: request.readOnly,
        comment: withTag(undefined, tag),
        ...(exp === undefined ? {} : { expirationHours: exp }),
        ...(ret === undefined ? {} : { retentionHours: ret }),
      };
      try {
        await this.#api.createSnapshot(request.source, parameters, signal);
      } catch (e: unknown) {
        const mine = await this.#resolveCreate(e, request.name, tag, signal);
        if (mine !== undefined) return mine;
        if (unnamed(e)) {
          const source = await this.#api.volume(request.source, signal);
          if (source?.readOnly === true && request.readOnly)
            throw named("INV_OPERATION_VV_READONLY_TO_READONLY_SNAP", e);
        }
        throw e;
      }
      return this.#mustObserve(request.name, signal);
    });
  }

  createGroupVirtualCopy(
    request: CreateGroupVirtualCopyRequest,
    options?: CallOptions,
  ): Promise<readonly CopyObservation[]> {
    return this.#call(
      `cannot create group virtual copy ${request.namePrefix}*`,
      request.namePrefix,
      options,
      (signal) => createGroup(this.#api, request, (name, s) => this.#mustObserve(name, s), signal),
    );
  }

  observeVolumeSet(name: string, options?: CallOptions): Promise<VolumeSetObservation | undefined> {
    return this.#call(`cannot observe volume set ${name}`, undefined, options, async (signal) => {
      const set = await this.#api.volumeSet(name, signal);
      return set === undefined ? undefined : observeSet(set);
    });
  }

  createPhysicalCopy(
    request: CreatePhysicalCopyRequest,
    options?: CallOptions,
  ): Promise<{ copy: CopyObservation; job: JobObservation }> {
    return this.#mutating(`cannot create physical copy ${request.name}`, request.name, options, async (signal) => {
      const tag: CopyTag = {
        kind: "Physical",
        source: request.source,
        online: request.online,
        saveSnapshot: request.saveSnapshot,
        owner: request.owner,
      };
      const dest = await this.#api.volume(request.name, signal);
      const existing = dest === undefined ? undefined : await this.#existingPhysical(dest, tag, signal);
      if (existing !== undefined) return existing;
      if (request.online && request.sizeBytes !== undefined) {
        const source = await this.#api.volume(request.source, signal);
        if (source !== undefined && request.sizeBytes > source.sizeMiB * 1024 * 1024) {
          throw new EngineError("an online copy cannot be larger than its source over WSAPI (grow it after the copy)", {
            code: "Unsupported",
          });
        }
      }
      // Offline: tag the destination first (see the invariants above).
      if (dest !== undefined && !request.online)
        await this.#api.setComment(dest.name, withTag(dest.comment, tag), signal);
      const parameters = request.online
        ? {
            destVolume: request.name,
            online: true,
            destCPG: this.#opts.cpg,
            tpvv: true,
            ...(request.saveSnapshot ? { saveSnapshot: true } : {}),
            ...(this.#opts.snapCPG === undefined ? {} : { snapCPG: this.#opts.snapCPG }),
            ...(request.priority === undefined ? {} : { priority: wsapiPriority[asWsapiPriority(request.priority)] }),
          }
        : {
            destVolume: request.name,
            online: false,
            saveSnapshot: request.saveSnapshot,
            priority: wsapiPriority[asWsapiPriority(request.priority ?? "Same")],
          };
      let taskId: number | undefined;
      try {
        taskId = await this.#api.createPhysicalCopy(request.source, parameters, signal);
      } catch (e: unknown) {
        if (e instanceof EngineError && e.kind === "uncertain") {
          const after = await this.#api.volume(request.name, signal);
          const found = after === undefined ? undefined : await this.#existingPhysical(after, tag, signal);
          if (found !== undefined) return found;
        }
        if (unnamed(e) && dest !== undefined && !request.online) {
          const source = await this.#api.volume(request.source, signal);
          if (source !== undefined && source.sizeMiB > dest.sizeMiB)
            throw named("INV_OPERATION_VV_COPY_PARENT_TOO_BIG", e);
        }
        throw e;
      }
      if (request.online) await this.#api.setComment(request.name, withTag(undefined, tag), signal);
      const [copy, job] = await Promise.all([
        this.#mustObserve(request.name, signal),
        this.#mustObserveTask(taskId, signal),
      ]);
      this.#poller.started(job.id);
      return { copy, job };
    });
  }

  startJob(request: StartJobRequest, options?: CallOptions): Promise<JobObservation> {
    return this.#mutating(
      `cannot start ${request.operation} on ${request.copy}`,
      request.copy,
      options,
      async (signal) => {
        const copy = await this.observeCopyNow(request.copy, signal, true);
        if (copy === undefined) throw arrayError("NON_EXISTENT_VOL", `copy ${request.copy} not found`);
        requireOwner(`copy ${request.copy}`, copy.owner, request.owner);
        const active = copy.activeJob === undefined ? undefined : await this.observeJobNow(copy.activeJob, signal);
        if (active?.operation === request.operation) return active;
        const priority =
          request.priority === undefined ? {} : { priority: wsapiPriority[asWsapiPriority(request.priority)] };
        const unassociated = (e: unknown): unknown =>
          unnamed(e) && copy.synchronization === undefined
            ? named("NON_EXISTENT_VVCOPY", e, `${request.copy} is not an associated physical copy`)
            : e;
        let taskId: number | undefined;
        try {
          switch (request.operation) {
            case "Resync":
              taskId = await this.#api.startTask(request.copy, { action: 2 }, signal);
              break;
            case "StartCopy":
              taskId = await this.#api.createPhysicalCopy(
                copy.source,
                { destVolume: request.copy, online: false, saveSnapshot: copy.saveSnapshot, ...priority },
                signal,
              );
              break;
            case "Restore":
              taskId = await this.#api.startTask(request.copy, { action: 4, ...priority }, signal);
              break;
            case "Detach":
              return await this.#detach(copy, signal);
          }
        } catch (e: unknown) {
          throw unassociated(e);
        }
        const job = await this.#mustObserveTask(taskId, signal);
        this.#poller.started(job.id);
        return job;
      },
    );
  }

  halt(target: HaltTarget, options?: CallOptions): Promise<JobObservation | undefined> {
    const what = "job" in target ? `job ${target.job}` : `copy ${target.copy}`;
    return this.#mutating(
      `cannot halt ${what}`,
      "copy" in target ? target.copy : `job:${target.job}`,
      options,
      async (signal) => {
        let task: Task | undefined;
        if ("job" in target) {
          const detached = this.#detached.get(target.job);
          if (detached !== undefined) return detached;
          task = await this.#api.task(target.job, signal);
          if (task === undefined) throw arrayError("NON_EXISTENT_TASK", `job ${target.job} not found`);
        } else {
          task = tasksOn(target.copy, await this.#api.tasks(signal, target.copy))
            .filter((t) => t.status === taskStatus.active)
            .at(-1);
          if (task === undefined) return undefined;
        }
        if (task.status === taskStatus.active)
          await this.#stop(task, await this.#ours(task.name, target.owner, signal), target.owner, signal);
        return this.#mustObserveTask(task.id, signal);
      },
    );
  }

  observeCopy(name: string, options?: CallOptions): Promise<CopyObservation | undefined> {
    return this.#call(`cannot observe copy ${name}`, undefined, options, (signal) => this.observeCopyNow(name, signal));
  }

  observeVolume(name: string, options?: CallOptions): Promise<VolumeObservation | undefined> {
    return this.#call(`cannot observe volume ${name}`, undefined, options, async (signal) => {
      const v = await this.#api.volume(name, signal);
      return v === undefined ? undefined : observeVolume(v);
    });
  }

  observeJob(id: string, options?: CallOptions): Promise<JobObservation | undefined> {
    return this.#call(`cannot observe job ${id}`, undefined, options, (signal) => this.observeJobNow(id, signal));
  }

  deleteCopy(copy: CopyRef, options?: CallOptions): Promise<void> {
    const { name, owner } = copy;
    return this.#call(`cannot delete copy ${name}`, name, options, async (signal) => {
      const v = await this.#api.volume(name, signal);
      if (v === undefined) return;
      requireOwner(`volume ${name}`, parseTag(v.comment)?.owner, owner);
      const tasks = tasksOn(name, await this.#api.tasks(signal, name));
      const online = tasks.find((t) => t.type === taskTypes.onlineCopy && t.status === taskStatus.active);
      // As cinder does: a volume still under online copy is stopped (cancel, clean up) rather than refused.
      if (online !== undefined) {
        await this.#stop(online, v, owner, signal);
        return;
      }
      try {
        await this.#api.deleteVolume(name, signal);
      } catch (e: unknown) {
        if (!unnamed(e)) throw e;
        const active = tasks.find((t) => t.status === taskStatus.active);
        if (active !== undefined)
          throw named(
            active.type === taskTypes.promoteSv
              ? "INV_OPERATION_VV_PROMOTE_IN_PROGRESS"
              : "INV_OPERATION_VV_PCOPY_IN_PROGRESS",
            e,
          );
        if (v.retentionTimeSec !== undefined || v.retentionTime8601 !== undefined)
          throw named("RETAINED", e, `${name} is retained until ${v.retentionTime8601 ?? String(v.retentionTimeSec)}`);
        throw e;
      }
    });
  }

  listCopies(options?: CallOptions): Promise<readonly CopyObservation[]> {
    return this.#call("cannot list copies", undefined, options, async (signal) => {
      const [vols, tasks] = await Promise.all([this.#api.volumes(signal), this.#api.tasks(signal)]);
      return vols.flatMap((v) => {
        const tag = parseTag(v.comment);
        return tag === undefined ? [] : [observeVolumeCopy(v, tag, tasksOn(v.name, tasks))];
      });
    });
  }

  subscribe(listener: JobListener): () => void {
    return this.#poller.subscribe(listener);
  }

  async close(): Promise<void> {
    this.#poller.stop();
    await this.#client.close();
  }

  /** observeCopy without the call wrapper, for use inside other calls. */
  /** `mustRead`: read the volume whatever was cached (before a call that acts on it). */
  async observeCopyNow(name: string, signal: Signal, mustRead = false): Promise<CopyObservation | undefined> {
    const held = mustRead ? undefined : this.#quiet.get(name);
    const writes = this.#api.writes;
    const [fresh, all] = await Promise.all([
      held === undefined ? this.#api.volume(name, signal) : undefined,
      this.#api.tasks(signal, name),
    ]);
    const readAt = Date.now();
    let tasks = tasksOn(name, all);
    const state = tasks.map((t) => `${t.id}:${t.status}`).join(",");
    const reuse =
      held !== undefined && held.tasks === state && held.writes === writes && Date.now() - held.at < quietMaxAgeMs;
    const v = fresh ?? (reuse ? held.volume : await this.#api.volume(name, signal));
    // A physical copy without a copy task in a list that may predate it (shared for up to tasksTtlMs, or answered
    // while another client created the copy) would read as complete: ask the array again, after the volume.
    if (v?.copyType === copyTypes.physicalCopy && !tasks.some(isCopyTask))
      tasks = tasksOn(name, await this.#api.tasks(signal, name, readAt));
    if (v !== undefined && tasks.some((t) => t.status === taskStatus.active)) {
      if (!reuse) this.#quiet.set(name, { volume: v, tasks: state, writes, at: Date.now() });
    } else {
      this.#quiet.delete(name);
    }
    const tag = parseTag(v?.comment);
    if (v === undefined || tag === undefined) return undefined;
    return observeVolumeCopy(v, tag, tasks);
  }

  async observeJobNow(id: string, signal: Signal): Promise<JobObservation | undefined> {
    const detached = this.#detached.get(id);
    if (detached !== undefined) return detached;
    if (!/^[0-9]+$/.test(id)) return undefined;
    // The shared task list serves every job's poll; a task it lacks is asked for by id.
    const all = await this.#api.tasks(signal);
    const task = all.find((t) => t.id === Number(id)) ?? (await this.#api.task(id, signal));
    if (task === undefined) return undefined;
    // Telling Copy from StartCopy needs the other tasks on the volume.
    return observeTask(task, task.type === taskTypes.vvCopy ? tasksOn(task.name, all) : []);
  }

  /** EXISTENT_VOL or a lost answer: ours (tag, kind, source) → the copy; someone else's → 22. */
  async #resolveCreate(e: unknown, name: string, tag: CopyTag, signal: Signal): Promise<CopyObservation | undefined> {
    if (!(e instanceof EngineError) || (e.arrayCode !== 22 && e.kind !== "uncertain")) return undefined;
    const v = await this.#api.volume(name, signal);
    const theirs = parseTag(v?.comment);
    if (
      v === undefined ||
      theirs === undefined ||
      !sameOwner(theirs.owner, tag.owner) ||
      theirs.kind !== tag.kind ||
      theirs.source !== tag.source
    ) {
      if (e.arrayCode === 22) throw arrayError("EXISTENT_VOL", `${name} exists and belongs to someone else`);
      return undefined;
    }
    return this.#mustObserve(name, signal);
  }

  /** The destination is already our copy (with a task): return it and its job; another owner's → 22. */
  async #existingPhysical(
    dest: Volume,
    tag: CopyTag,
    signal: Signal,
  ): Promise<{ copy: CopyObservation; job: JobObservation } | undefined> {
    const theirs = parseTag(dest.comment);
    if (theirs === undefined) return undefined;
    const copy = observeVolumeCopy(dest, theirs, tasksOn(dest.name, await this.#api.tasks(signal, dest.name)));
    if (!sameOwner(theirs.owner, tag.owner) || theirs.kind !== tag.kind || theirs.source !== tag.source) {
      // A copy that ended (detached, finished unassociated, halted) left an independent volume: it may be copied onto.
      if (!tag.online && copy.synchronization === undefined && copy.activeJob === undefined) return undefined;
      throw arrayError(
        "EXISTENT_VOL",
        `${dest.name} is already a copy owned by ${theirs.owner.namespace}/${theirs.owner.name}`,
      );
    }
    const jobId = copy.activeJob ?? copy.lastJob;
    if (jobId === undefined) return undefined;
    return { copy, job: await this.#mustObserveTask(Number(jobId), signal) };
  }

  async #detach(copy: CopyObservation, signal: Signal): Promise<JobObservation> {
    if (copy.synchronization === undefined)
      throw arrayError("NON_EXISTENT_VVCOPY", `${copy.name} is not an associated physical copy`);
    // WSAPI has no promotevvcopy: STOP_PHYSICAL_COPY on a copy that is not copying breaks the association (inferred).
    await this.#api.act(copy.name, { action: 1 }, signal);
    const now = Date.now();
    const id = `detach-${copy.name}-${now}`;
    const job: JobObservation = {
      id,
      operation: "Detach",
      copy: copy.name,
      priority: "Same",
      jobState: "Completed",
      operationalStatus: ["Completed", "OK"],
      percentComplete: 100,
      errorCode: 0,
      errorDescription: "",
      timeSubmitted: now,
      startTime: now,
      endTime: now,
    };
    this.#detached.set(id, job);
    return job;
  }

  /** The volume, read now, after checking that it carries `owner`'s tag (NotOwned otherwise). */
  async #ours(name: string, owner: OwnerTag, signal: Signal): Promise<Volume> {
    const v = await this.#api.volume(name, signal);
    if (v === undefined) throw arrayError("NON_EXISTENT_VOL", `volume ${name} not found`);
    requireOwner(`volume ${name}`, parseTag(v.comment)?.owner, owner);
    return v;
  }

  /** Stops an active task on `volume` (already checked ours) the way the array wants for its type. */
  async #stop(task: Task, volume: Volume, owner: OwnerTag, signal: Signal): Promise<void> {
    try {
      if (task.type === taskTypes.promoteSv) await this.#api.act(task.name, { action: 5 }, signal);
      else if (task.type === taskTypes.onlineCopy) await this.#stopOnline(task, volume, owner, signal);
      else await this.#api.act(task.name, { action: 1 }, signal);
    } catch (e: unknown) {
      // The task may have finished between the observation and the stop: then there is nothing to stop.
      const now = await this.#api.task(String(task.id), signal);
      if (now !== undefined && now.status !== taskStatus.active) return;
      throw e;
    }
  }

  async #stopOnline(task: Task, dest: Volume, owner: OwnerTag, signal: Signal): Promise<void> {
    const tag = parseTag(dest.comment);
    if (tag === undefined || !tag.online)
      throw new EngineError(`${dest.name} is not an online copy of ours`, { code: "NotOwned" });
    // The chain is read before anything is deleted: once the destination goes, nothing points at the snapshots.
    const internal = await this.#internalSnapshots(dest, tag.source, signal);
    await this.#api.cancelTask(task.id, signal);
    const until = Date.now() + 60_000;
    for (;;) {
      const now = await this.#api.task(String(task.id), signal);
      if (now === undefined || now.status !== taskStatus.active) break;
      if (Date.now() > until) throw new EngineError(`task ${task.id} still active after cancel`, { code: "Busy" });
      await new Promise((r) => setTimeout(r, Math.min(this.#opts.pollIntervalMs ?? 1000, 200)));
    }
    await this.#ours(dest.name, owner, signal);
    await this.#api.deleteVolume(dest.name, signal);
    for (const snap of internal) {
      // Read again right before its delete: still the same untagged snapshot of the same parent.
      const now = await this.#api.volume(snap.name, signal);
      if (now === undefined) continue;
      if (!isInternalSnapshot(now) || now.copyOf !== snap.copyOf) {
        this.#opts.logger?.("warn", "Left an online copy's internal snapshot that changed before its delete", {
          volume: snap.name,
          copy: dest.name,
        });
        continue;
      }
      await this.#api.deleteVolume(snap.name, signal);
    }
  }

  /**
   * The snapshots the array made between `source` and an online copy's destination (at most two, each the
   * copyOf of the one below it), or none when that chain does not check out on our side.
   */
  async #internalSnapshots(dest: Volume, source: string, signal: Signal): Promise<Volume[]> {
    const chain: Volume[] = [];
    let parent = dest.copyOf;
    while (parent !== undefined && parent !== source) {
      const snap = chain.length < 2 ? await this.#api.volume(parent, signal) : undefined;
      if (snap === undefined || !isInternalSnapshot(snap)) {
        this.#opts.logger?.(
          "warn",
          "Left an online copy's internal snapshots: their chain does not lead back to its source",
          {
            copy: dest.name,
            source,
            chain: [...chain.map((v) => v.name), parent],
          },
        );
        return [];
      }
      chain.push(snap);
      parent = snap.copyOf;
    }
    return parent === source ? chain : [];
  }

  async #mustObserve(name: string, signal: Signal): Promise<CopyObservation> {
    const copy = await this.observeCopyNow(name, signal);
    if (copy === undefined)
      throw new EngineError(`${name} vanished right after it was made`, { code: "Internal", kind: "uncertain" });
    return copy;
  }

  async #mustObserveTask(id: number | undefined, signal: Signal): Promise<JobObservation> {
    const job = id === undefined ? undefined : await this.observeJobNow(String(id), signal);
    if (job === undefined)
      throw new EngineError("the array started a task but did not say which", { code: "Internal", kind: "uncertain" });
    return job;
  }

  /** A call that may start or stop a task: the task poller follows the array again afterwards. */
  #mutating<T>(
    context: string,
    key: string | undefined,
    options: CallOptions | undefined,
    work: (signal: Signal) => Promise<T>,
  ): Promise<T> {
    return this.#call(context, key, options, work).finally(() => {
      this.#poller.wake();
    });
  }

  async #call<T>(
    context: string,
    key: string | undefined,
    options: CallOptions | undefined,
    work: (signal: Signal) => Promise<T>,
  ): Promise<T> {
    const signal = options?.signal;
    const run = async (): Promise<T> => {
      if (signal?.aborted === true) throw abortedError(context);
      try {
        return await work(signal);
      } catch (e: unknown) {
        throw withContext(context, e);
      }
    };
    return key === undefined ? run() : this.#order.run(key, run);
  }
}

/** An array-made snapshot: a virtual copy that carries no owner tag (ours or anyone's). */
function isInternalSnapshot(v: Volume): boolean {
  return v.copyType === copyTypes.virtualCopy && parseTag(v.comment) === undefined;
}

function asWsapiPriority(p: string): "High" | "Same" | "Low" {
  if (p === "High" || p === "Urgent") return "High";
  if (p === "Low") return "Low";
  return "Same";
}
