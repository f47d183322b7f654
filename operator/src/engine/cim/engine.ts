// The cim engine: the port over an SMI-S provider's CIM-XML API (3PAR's CIM server on port 5989), DOMAIN.md §1–2.
// It keeps nothing the provider does not: ownership lives in the volume's Comment (../owner-tag.ts), state in
// TPD_StorageVolume, TPD_StorageSynchronized and TPD_ConcreteJob instances, so a restarted operator sees what
// the provider sees. CopyType, ReplicaType, SyncState, WhenSynced and SyncMaintained are read from the
// StorageSynchronized instance, never computed.
// Method set (chosen by discovery of CIM_RegisteredProfile in the interop namespace, profile.ts):
// - virtual copy: StorageConfigurationService.CreateReplica(CopyType 4, TargetSettingGoal with the timers);
// - offline physical copy: AttachOrModifyReplica(CopyType 4 with saveSnapshot, else 5) → a job (4096);
// - online physical copy: ReplicationService.CreateElementReplica(SyncType Clone), needs Replication Services;
// - Resync, StartCopy, Restore, Detach, halt: ModifySynchronization with the operation codes of DOMAIN.md §1.3
//   (Detach and Stop Copy are synchronous: no job); halting a job is RequestStateChange(Terminate).
// Invariants:
// - Nothing is deleted, stopped or started before the driver has read the volume and found our owner tag with
//   the owner the caller named (ownership.ts), whatever an enumeration answered.
// - A create is sent once; a repeated create finds our tag on the volume and answers with what is there.
// - Detach has no job on the provider; its Completed job is kept in memory, as the wsapi driver does.
// Indications (indications.ts): with a listener, the first subscriber makes the provider's subscription; each
// indication of a job reaches the subscribers at once through the poller, which then polls only slowly as the
// safety net; capabilities().indications is true while indications are subscribed and arriving. close() removes the
// subscription.
import { abortedError, arrayError, EngineError, withContext } from "../errors.ts";
import { requireOwner, sameOwner } from "../ownership.ts";
import { parseTag, withTag, type CopyTag } from "../owner-tag.ts";
import type {
  CreateGroupVirtualCopyRequest,
  VolumeSetObservation,
  CallOptions,
  Capabilities,
  CopyObservation,
  CopyRef,
  CreatePhysicalCopyRequest,
  CreateVirtualCopyRequest,
  Engine,
  HaltTarget,
  IndicationStatus,
  JobListener,
  JobObservation,
  OwnerTag,
  StartJobRequest,
  VolumeObservation,
  VolumeOps,
} from "../port.ts";
import { finishedJobStates } from "../port.ts";
import { TaskPoller } from "../task-poller.ts";
import { copyOperations, copyPriorities } from "../../cim/values.ts";
import { CimClient, type CimClientOptions } from "./client.ts";
import { methodError, methodReturn } from "./codes.ts";
import { cim } from "./model.ts";
import { classes, defaultNamespace, jobName, modes, requestedStates, syncTypes, volumeName } from "./names.ts";
import { CimIndications, type CimIndicationOptions } from "./indications.ts";
import { CimReader, type VolumeView } from "./reader.ts";
import { discover, type Discovery } from "./profile.ts";
import { observation, type CimVolumeAccess } from "./volumes.ts";
import type { CimValue, InstanceName } from "./xml.ts";

export interface CimEngineOptions extends CimClientOptions {
  /** The provider's namespace for the array's objects; root/tpd by default. */
  readonly namespace?: string;
  /** The interop namespace where CIM_RegisteredProfile lives; interop by default. */
  readonly interopNamespace?: string;
  /** How often jobs are polled while someone subscribes (the slow poll behind indications). */
  readonly pollIntervalMs?: number;
  /** Pushed job indications through the operator's listener; without it jobs are only polled. */
  readonly indications?: CimIndicationOptions;
  /**
   * Volumes for tests: the test array's data path, or cimVolumeOps (volumes.ts) against a live provider. Makes
   * capabilities().volumes true; the operator's classes never set it (CIM has no data path).
   */
  readonly volumes?: (ops: CimVolumeAccess) => VolumeOps;
}

type Signal = AbortSignal | undefined;

export function openCimEngine(opts: CimEngineOptions): Engine {
  return new CimEngine(opts);
}

class CimEngine implements Engine {
  readonly #client: CimClient;
  readonly #ns: string;
  readonly #interop: string;
  readonly #reader: CimReader;
  readonly #poller: TaskPoller;
  readonly #indications: CimIndications | undefined;
  readonly #detached = new Map<string, JobObservation>();
  #discovery: Promise<Discovery> | undefined;
  /** Whether the provider registers Replication Services, once a discovery has answered. */
  #replication: boolean | undefined;
  readonly volumes: VolumeOps | undefined;

  constructor(opts: CimEngineOptions) {
    this.#client = new CimClient(opts);
    this.#ns = opts.namespace ?? defaultNamespace;
    this.#interop = opts.interopNamespace ?? "interop";
    this.#reader = new CimReader(this.#client, this.#ns, (s) => this.#discover(s));
    const pollMs = opts.pollIntervalMs ?? 1000;
    this.#indications =
      opts.indications === undefined
        ? undefined
        : new CimIndications(opts.indications, {
            client: this.#client,
            interop: this.#interop,
            namespace: this.#ns,
            logger: opts.logger,
            onJob: (job) => {
              this.#poller.observe(job);
            },
          });
    const pushed = this.#indications;
    this.#poller = new TaskPoller(
      () => this.#reader.jobs(),
      () => (pushed?.arriving === true ? pushed.slowPollMs : pollMs),
      (job) => pushed?.polledNews(job),
    );
    const reader = this.#reader;
    const access: CimVolumeAccess = {
      client: this.#client,
      namespace: this.#ns,
      discovery: (s) => this.#discover(s),
      volume: (name, s) => reader.volume(name, s),
      volumes: (s) => reader.volumes(s),
    };
    this.volumes = opts.volumes?.(access);
  }

  #discover(signal: Signal): Promise<Discovery> {
    this.#discovery ??= discover(this.#client, this.#ns, this.#interop, signal).then((d) => {
      this.#replication = d.replicationService !== undefined;
      return d;
    });
    // A failed discovery is not kept: the provider or the class may be fixed.
    this.#discovery.catch(() => {
      this.#discovery = undefined;
    });
    return this.#discovery;
  }

  capabilities(): Capabilities {
    return {
      virtualCopies: true,
      physicalCopies: true,
      // Online copies are Replication Services' CreateElementReplica: claimed unless discovery found none (before
      // the first discovery nothing is known; a copy then gets the refusal Unsupported, with the reason).
      onlinePhysicalCopies: this.#replication !== false,
      resync: true,
      restore: true,
      expiration: true,
      retention: true,
      maxConcurrentPhysicalCopies: 2,
      maxNameLength: 31,
      indications: this.#indications?.arriving === true,
      volumes: this.volumes !== undefined,
      groupVirtualCopies: false,
      // The same arrays, but online copies through CIM have not been tried with the HPE CSI driver's import.
      csiImport: false,
      // The same arrays behind the same CSI driver and CSP: a PV names its volume as over WSAPI (docs/sources.md).
      csiVolumeHandle: "HPE3PARCSP",
      createsMayLandLate: true,
    };
  }

  /** Not built on CIM yet (a replication group's CreateGroupReplica): refused, and nothing is sent. */
  createGroupVirtualCopy(request: CreateGroupVirtualCopyRequest): Promise<readonly CopyObservation[]> {
    return Promise.reject(
      new EngineError(`cannot copy the group ${request.namePrefix}: the cim driver has no group copies yet`, {
        code: "Unsupported",
      }),
    );
  }

  observeVolumeSet(name: string): Promise<VolumeSetObservation | undefined> {
    return Promise.reject(
      new EngineError(`cannot read the volume set ${name}: the cim driver has no volume sets yet`, {
        code: "Unsupported",
      }),
    );
  }

  async createVirtualCopy(request: CreateVirtualCopyRequest, options?: CallOptions): Promise<CopyObservation> {
    const context = `cannot create virtual copy ${request.name}`;
    const signal = options?.signal;
    try {
      const tag: CopyTag = {
        kind: "Virtual",
        source: request.source,
        online: false,
        saveSnapshot: false,
        owner: request.owner,
      };
      const existing = await this.#reader.volume(request.name, signal);
      if (existing !== undefined) return await this.#sameCopy(existing, tag, signal);
      if (signal?.aborted === true) throw abortedError(context);
      const d = await this.#discover(signal);
      const goal = cim.embedded({
        className: classes.setting,
        properties: {
          ElementName: cim.str(request.name),
          Comment: cim.str(withTag(undefined, tag)),
          ReadOnly: cim.bool(request.readOnly),
          ...(request.expirationHours === undefined ? {} : { ExpirationTimer: cim.hours(request.expirationHours) }),
          ...(request.retentionHours === undefined ? {} : { RetentionTimer: cim.hours(request.retentionHours) }),
        },
      });
      await this.#invoke(
        d.configurationService,
        "CreateReplica",
        {
          ElementName: cim.str(request.name),
          SourceElement: cim.ref(volumeName(d.system, request.source)),
          CopyType: cim.u16(4),
          TargetSettingGoal: goal,
        },
        signal,
      );
      return await this.#mustObserve(request.name, signal);
    } catch (e: unknown) {
      throw withContext(context, e);
    }
  }

  async createPhysicalCopy(
    request: CreatePhysicalCopyRequest,
    options?: CallOptions,
  ): Promise<{ readonly copy: CopyObservation; readonly job: JobObservation }> {
    const context = `cannot create physical copy ${request.name}`;
    const signal = options?.signal;
    try {
      if (request.online && request.saveSnapshot)
        throw arrayError("INV_INPUT_PARAM_CONFLICT", "saveSnapshot applies to offline copies only");
      if (request.online && request.priority !== undefined)
        throw arrayError("INV_INPUT_PARAM_CONFLICT", "priority applies to offline copies only");
      const tag: CopyTag = {
        kind: "Physical",
        source: request.source,
        online: request.online,
        saveSnapshot: request.saveSnapshot,
        owner: request.owner,
      };
      const dest = await this.#reader.volume(request.name, signal);
      if (dest !== undefined) {
        const found = await this.#existingPhysical(dest, tag, signal);
        if (found !== undefined) return found;
        if (request.online) throw arrayError("EXISTENT_VOL", `volume ${request.name} exists`);
      }
      if (signal?.aborted === true) throw abortedError(context);
      const d = await this.#discover(signal);
      const goal = cim.embedded({
        className: classes.setting,
        properties: { ElementName: cim.str(request.name), Comment: cim.str(withTag(dest?.comment, tag)) },
      });
      let job: InstanceName | null;
      if (request.online) {
        if (d.replicationService === undefined)
          throw new EngineError("the provider does not register Replication Services: no online copies", {
            code: "Unsupported",
          });
        const out = await this.#invoke(
          d.replicationService,
          "CreateElementReplica",
          {
            ElementName: cim.str(request.name),
            SyncType: cim.u16(syncTypes.Clone),
            Mode: cim.u16(modes.Synchronous),
            SourceElement: cim.ref(volumeName(d.system, request.source)),
            TargetSettingGoal: goal,
            ...(request.sizeBytes === undefined ? {} : { Size: cim.u64(request.sizeBytes) }),
          },
          signal,
        );
        job = refOut(out, "Job");
      } else {
        const out = await this.#invoke(
          d.configurationService,
          "AttachOrModifyReplica",
          {
            SourceElement: cim.ref(volumeName(d.system, request.source)),
            TargetElement: cim.ref(volumeName(d.system, request.name)),
            CopyType: cim.u16(request.saveSnapshot ? 4 : 5),
            Goal: goal,
            CopyPriority: cim.u16(copyPriorities[request.priority ?? "Same"]),
          },
          signal,
        );
        job = refOut(out, "Job");
      }
      const id = jobId(job, "the copy method");
      this.#poller.started(id);
      this.#poller.wake();
      const observed = await this.#mustObserveJob(id, signal);
      return { copy: await this.#mustObserve(request.name, signal), job: observed };
    } catch (e: unknown) {
      throw withContext(context, e);
    }
  }

  async startJob(request: StartJobRequest, options?: CallOptions): Promise<JobObservation> {
    const context = `cannot ${request.operation.toLowerCase()} copy ${request.copy}`;
    const signal = options?.signal;
    try {
      const v = await this.#ours(request.copy, request.owner, signal);
      const copy = await this.#reader.copy(v, signal);
      if (copy?.synchronization === undefined)
        throw arrayError("NON_EXISTENT_VVCOPY", `${request.copy} has no association with its source`);
      if (signal?.aborted === true) throw abortedError(context);
      const d = await this.#discover(signal);
      const out = await this.#invoke(
        d.configurationService,
        "ModifySynchronization",
        {
          Operation: cim.u16(copyOperations[request.operation]),
          Synchronization: cim.ref(await this.#reader.synchronizationName(v, signal)),
          ...(request.priority === undefined ? {} : { CopyPriority: cim.u16(copyPriorities[request.priority]) }),
        },
        signal,
      );
      if (request.operation === "Detach") return this.#detachedJob(request.copy);
      const id = jobId(refOut(out, "Job"), "ModifySynchronization");
      this.#poller.started(id);
      this.#poller.wake();
      return await this.#mustObserveJob(id, signal);
    } catch (e: unknown) {
      throw withContext(context, e);
    }
  }

  async halt(target: HaltTarget, options?: CallOptions): Promise<JobObservation | undefined> {
    const signal = options?.signal;
    const context = `cannot halt ${"job" in target ? `job ${target.job}` : `the job on ${target.copy}`}`;
    try {
      const job =
        "job" in target
          ? await this.#reader.job(target.job, signal)
          : await this.#activeOn(target.copy, target.owner, signal);
      if ("job" in target && job === undefined) throw arrayError("NON_EXISTENT_TASK", `job ${target.job} not found`);
      if (job === undefined) return undefined;
      await this.#ours(job.copy, target.owner, signal);
      if (finishedJobStates.includes(job.jobState)) return job;
      if (signal?.aborted === true) throw abortedError(context);
      const rv = await this.#client.invokeMethod(
        this.#ns,
        jobName(job.id),
        "RequestStateChange",
        {
          RequestedState: cim.u16(requestedStates.Terminate),
          TimeoutPeriod: { kind: "scalar", type: "datetime", text: null },
        },
        signal,
      );
      if (rv.returnValue !== methodReturn.Completed && rv.returnValue !== methodReturn.JobStarted) {
        const now = await this.#reader.job(job.id, signal);
        if (now !== undefined && finishedJobStates.includes(now.jobState)) return now;
        throw methodError("RequestStateChange", rv.returnValue);
      }
      this.#poller.wake();
      return await this.#untilFinished(job.id, signal);
    } catch (e: unknown) {
      throw withContext(context, e);
    }
  }

  async observeCopy(name: string, options?: CallOptions): Promise<CopyObservation | undefined> {
    try {
      const v = await this.#reader.volume(name, options?.signal);
      return v === undefined ? undefined : await this.#reader.copy(v, options?.signal);
    } catch (e: unknown) {
      throw withContext(`cannot observe copy ${name}`, e);
    }
  }

  async observeVolume(name: string, options?: CallOptions): Promise<VolumeObservation | undefined> {
    try {
      const v = await this.#reader.volume(name, options?.signal);
      return v === undefined ? undefined : observation(v);
    } catch (e: unknown) {
      throw withContext(`cannot observe volume ${name}`, e);
    }
  }

  async observeJob(id: string, options?: CallOptions): Promise<JobObservation | undefined> {
    const detached = this.#detached.get(id);
    if (detached !== undefined) return detached;
    try {
      return await this.#reader.job(id, options?.signal);
    } catch (e: unknown) {
      throw withContext(`cannot observe job ${id}`, e);
    }
  }

  async deleteCopy(copy: CopyRef, options?: CallOptions): Promise<void> {
    const context = `cannot delete copy ${copy.name}`;
    const signal = options?.signal;
    try {
      const v = await this.#reader.volume(copy.name, signal);
      if (v === undefined) return;
      requireOwner(`volume ${copy.name}`, parseTag(v.comment)?.owner, copy.owner);
      const seen = await this.#reader.copy(v, signal);
      const d = await this.#discover(signal);
      if (seen?.activeJob !== undefined) {
        await this.halt({ job: seen.activeJob, owner: copy.owner }, options);
      }
      if (signal?.aborted === true) throw abortedError(context);
      await this.#invoke(
        d.configurationService,
        "ReturnToStoragePool",
        {
          TheElement: cim.ref(volumeName(d.system, copy.name)),
        },
        signal,
      );
    } catch (e: unknown) {
      if (e instanceof EngineError && e.arrayCode === 23) return;
      throw withContext(context, e);
    }
  }

  async listCopies(options?: CallOptions): Promise<readonly CopyObservation[]> {
    try {
      // Discovery first, so a class whose provider lacks Copy Services or the namespace says so at once.
      await this.#discover(options?.signal);
      const out: CopyObservation[] = [];
      for (const v of await this.#reader.volumes(options?.signal)) {
        const c = await this.#reader.copy(v, options?.signal);
        if (c !== undefined) out.push(c);
      }
      return out;
    } catch (e: unknown) {
      throw withContext("cannot list copies", e);
    }
  }

  subscribe(listener: JobListener): () => void {
    this.#indications?.start();
    return this.#poller.subscribe(listener);
  }

  /** Whether pushed indications are subscribed and arriving; undefined without a listener. */
  indicationStatus(): IndicationStatus | undefined {
    return this.#indications?.status();
  }

  async close(): Promise<void> {
    this.#poller.stop();
    await this.#indications?.close();
    this.#client.close();
  }

  async #invoke(
    service: InstanceName,
    method: string,
    params: Readonly<Record<string, CimValue>>,
    signal: Signal,
  ): Promise<Readonly<Record<string, CimValue>>> {
    const r = await this.#client.invokeMethod(this.#ns, service, method, params, signal);
    if (r.returnValue !== methodReturn.Completed && r.returnValue !== methodReturn.JobStarted)
      throw methodError(method, r.returnValue);
    return r.out;
  }

  /** An existing volume under a virtual copy's name: ours → the copy; anyone else's (or untagged) → 22. */
  async #sameCopy(v: VolumeView, tag: CopyTag, signal: Signal): Promise<CopyObservation> {
    const theirs = parseTag(v.comment);
    if (
      theirs !== undefined &&
      sameOwner(theirs.owner, tag.owner) &&
      theirs.kind === tag.kind &&
      theirs.source === tag.source
    ) {
      const c = await this.#reader.copy(v, signal);
      if (c !== undefined) return c;
    }
    throw arrayError("EXISTENT_VOL", `volume ${v.name} exists`);
  }

  /** The destination is already our copy with a job: return both; another owner's live copy → 22. */
  async #existingPhysical(
    dest: VolumeView,
    tag: CopyTag,
    signal: Signal,
  ): Promise<{ copy: CopyObservation; job: JobObservation } | undefined> {
    const theirs = parseTag(dest.comment);
    if (theirs === undefined) return undefined;
    const copy = await this.#reader.copy(dest, signal);
    if (copy === undefined) return undefined;
    if (!sameOwner(theirs.owner, tag.owner) || theirs.kind !== tag.kind || theirs.source !== tag.source) {
      // A copy that ended (detached, finished unassociated, halted) left an independent volume: it may be copied onto.
      if (!tag.online && copy.synchronization === undefined && copy.activeJob === undefined) return undefined;
      throw arrayError(
        "EXISTENT_VOL",
        `${dest.name} is already a copy owned by ${theirs.owner.namespace}/${theirs.owner.name}`,
      );
    }
    const id = copy.activeJob ?? copy.lastJob;
    if (id === undefined) return undefined;
    return { copy, job: await this.#mustObserveJob(id, signal) };
  }

  async #activeOn(copy: string, owner: OwnerTag, signal: Signal): Promise<JobObservation | undefined> {
    const v = await this.#ours(copy, owner, signal);
    const seen = await this.#reader.copy(v, signal);
    if (seen?.activeJob !== undefined) return this.#reader.job(seen.activeJob, signal);
    if (seen?.synchronization === undefined) return undefined;
    // A copy running without a job the provider shows (an online copy's own task) is stopped with Stop Copy.
    return undefined;
  }

  async #untilFinished(id: string, signal: Signal): Promise<JobObservation> {
    for (let i = 0; ; i++) {
      const job = await this.#mustObserveJob(id, signal);
      if (finishedJobStates.includes(job.jobState) || i >= 200) return job;
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  #detachedJob(copy: string): JobObservation {
    const now = Date.now();
    const job: JobObservation = {
      id: `detach-${copy}-${now}`,
      operation: "Detach",
      copy,
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
    this.#detached.set(job.id, job);
    return job;
  }

  async #ours(name: string, owner: OwnerTag, signal: Signal): Promise<VolumeView> {
    const v = await this.#reader.volume(name, signal);
    if (v === undefined) throw arrayError("NON_EXISTENT_VOL", `volume ${name} not found`);
    requireOwner(`volume ${name}`, parseTag(v.comment)?.owner, owner);
    return v;
  }

  async #mustObserve(name: string, signal: Signal): Promise<CopyObservation> {
    const v = await this.#reader.volume(name, signal);
    const c = v === undefined ? undefined : await this.#reader.copy(v, signal);
    if (c === undefined)
      throw new EngineError(`the provider answered but copy ${name} is not there`, {
        code: "Internal",
        kind: "uncertain",
      });
    return c;
  }

  async #mustObserveJob(id: string, signal: Signal): Promise<JobObservation> {
    const j = await this.observeJob(id, { ...(signal === undefined ? {} : { signal }) });
    if (j === undefined)
      throw new EngineError(`job ${id} is not on the provider`, { code: "Internal", kind: "uncertain" });
    return j;
  }
}

function refOut(out: Readonly<Record<string, CimValue>>, name: string): InstanceName | null {
  const v = out[name];
  return v?.kind === "ref" ? v.ref : null;
}

function jobId(ref: InstanceName | null, what: string): string {
  const k = ref?.keys.InstanceID;
  if (k?.kind !== "scalar")
    throw new EngineError(`${what} started a job but returned no Job reference`, {
      code: "Internal",
      kind: "uncertain",
    });
  return k.text;
}
