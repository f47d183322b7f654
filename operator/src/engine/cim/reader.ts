// Reading the provider: volumes, their StorageSynchronized association and jobs, turned into the port's
// observations. One GetInstance per volume, one References for its synchronization, one Associators for its
// jobs (TPD_AffectedJobElement); the values come from the instances as they are, validated by schemas.ts.
import { EngineError } from "../errors.ts";
import { parseTag } from "../owner-tag.ts";
import type {
  CopyObservation,
  CopyPriority,
  JobObservation,
  JobOperation,
  SynchronizationObservation,
} from "../port.ts";
import { finishedJobStates } from "../port.ts";
import { copyPriorities } from "../../cim/values.ts";
import type { CimClient } from "./client.ts";
import { keyText, plain } from "./model.ts";
import { classes, jobName, volumeName } from "./names.ts";
import type { Discovery } from "./profile.ts";
import {
  concreteJob,
  storageSynchronized,
  storageVolume,
  type ConcreteJob,
  type StorageSynchronized,
} from "./schemas.ts";
import type { Instance, InstanceName } from "./xml.ts";
import type { z } from "zod";

export interface VolumeView {
  readonly name: string;
  readonly ref: InstanceName;
  readonly comment: string | undefined;
  readonly sizeBytes: number;
  readonly readOnly: boolean;
  readonly copyOf: string | undefined;
  readonly createdAt: number;
  readonly expiresAt: number | undefined;
  readonly retainedUntil: number | undefined;
  readonly contentComplete: boolean;
}

const operations: readonly JobOperation[] = ["Copy", "Resync", "StartCopy", "Restore", "Detach"];

function validated<T>(schema: z.ZodType<T>, i: Instance, what: string): T {
  const r = schema.safeParse(plain(i));
  if (!r.success)
    throw new EngineError(`the provider's ${what} ${i.className} is malformed: ${r.error.issues[0]?.message ?? ""}`, {
      code: "Internal",
    });
  return r.data;
}

const orUndefined = (n: number | null | undefined): number | undefined => (n === null ? undefined : n);

function priorityOf(n: number | undefined): CopyPriority {
  const found = Object.entries(copyPriorities).find(([, v]) => v === n);
  return (found?.[0] as CopyPriority | undefined) ?? "Same";
}

/** A TPD_ConcreteJob instance (a GetInstance answer, or an indication's SourceInstance) as the port's job. */
export function jobOfInstance(i: Instance): JobObservation {
  return observeJob(validated(concreteJob, i, "job"));
}

export function observeJob(j: ConcreteJob): JobObservation {
  const operation = operations.find((o) => o === j.Name);
  if (operation === undefined)
    throw new EngineError(`the provider's job ${j.InstanceID} has an unknown operation ${j.Name}`, {
      code: "Internal",
    });
  const finished = finishedJobStates.includes(j.JobState);
  return {
    id: j.InstanceID,
    operation,
    copy: j.ElementName,
    priority: priorityOf(j.Priority),
    jobState: j.JobState,
    operationalStatus: j.OperationalStatus,
    percentComplete: Math.min(100, j.PercentComplete),
    errorCode: j.ErrorCode ?? 0,
    errorDescription: j.ErrorDescription ?? "",
    timeSubmitted: orUndefined(j.TimeSubmitted) ?? 0,
    startTime: orUndefined(j.StartTime),
    endTime: finished ? orUndefined(j.TimeOfLastStateChange) : undefined,
  };
}

export class CimReader {
  readonly #client: CimClient;
  readonly #ns: string;
  readonly #discover: (signal?: AbortSignal) => Promise<Discovery>;

  constructor(client: CimClient, namespace: string, discover: (signal?: AbortSignal) => Promise<Discovery>) {
    this.#client = client;
    this.#ns = namespace;
    this.#discover = discover;
  }

  #view(ref: InstanceName, i: Instance): VolumeView {
    const v = validated(storageVolume, i, "volume");
    return {
      name: v.ElementName,
      ref,
      comment: v.Comment ?? undefined,
      sizeBytes: v.BlockSize * v.NumberOfBlocks,
      readOnly: v.ReadOnly ?? false,
      copyOf: v.CopyOf ?? undefined,
      createdAt: orUndefined(v.CreationTime) ?? 0,
      expiresAt: orUndefined(v.ExpirationTime),
      retainedUntil: orUndefined(v.RetentionTime),
      contentComplete: !(v.OperationalStatus ?? []).includes(3),
    };
  }

  async volume(name: string, signal?: AbortSignal): Promise<VolumeView | undefined> {
    const d = await this.#discover(signal);
    const ref = volumeName(d.system, name);
    const i = await this.#client.getInstance(this.#ns, ref, signal);
    return i === undefined ? undefined : this.#view(ref, i);
  }

  async volumes(signal?: AbortSignal): Promise<VolumeView[]> {
    const all = await this.#client.enumerateInstances(this.#ns, classes.volume, signal);
    return all.map((n) => this.#view(n.name, n.instance));
  }

  /** The StorageSynchronized instance whose SyncedElement is this volume, with its instance name. */
  async #synchronization(
    v: VolumeView,
    signal?: AbortSignal,
  ): Promise<{ name: InstanceName; sync: StorageSynchronized } | undefined> {
    const refs = await this.#client.references(
      this.#ns,
      v.ref,
      { assocClass: classes.synchronized, role: "SyncedElement" },
      signal,
    );
    for (const r of refs) {
      const s = validated(storageSynchronized, r.instance, "association");
      if (keyText(s.SyncedElement, "DeviceID") === v.name) return { name: r.name, sync: s };
    }
    return undefined;
  }

  async synchronizationName(v: VolumeView, signal?: AbortSignal): Promise<InstanceName> {
    const found = await this.#synchronization(v, signal);
    if (found === undefined)
      throw new EngineError(`${v.name} has no association with its source`, { code: "InvalidState" });
    return found.name;
  }

  async jobsOn(v: VolumeView, signal?: AbortSignal): Promise<JobObservation[]> {
    const found = await this.#client.associators(
      this.#ns,
      v.ref,
      { assocClass: classes.affectedJobElement, resultClass: classes.job },
      signal,
    );
    return found.map((n) => observeJob(validated(concreteJob, n.instance, "job")));
  }

  async copy(v: VolumeView, signal?: AbortSignal): Promise<CopyObservation | undefined> {
    const tag = parseTag(v.comment);
    if (tag === undefined) return undefined;
    const [found, jobs] = await Promise.all([this.#synchronization(v, signal), this.jobsOn(v, signal)]);
    const mine = jobs
      .filter((j) => j.copy === v.name)
      .sort((a, b) => a.timeSubmitted - b.timeSubmitted || Number(a.id) - Number(b.id));
    const active = mine.find((j) => !finishedJobStates.includes(j.jobState));
    const s = found?.sync;
    const synchronization: SynchronizationObservation | undefined =
      s === undefined
        ? undefined
        : {
            copyType: s.CopyType,
            replicaType: s.ReplicaType,
            syncState: s.SyncState,
            syncMaintained: s.SyncMaintained,
            whenSynced: orUndefined(s.WhenSynced),
            percentSynced: Math.min(100, s.PercentSynced ?? 0),
            copyPriority: s.CopyPriority ?? "NotManaged",
          };
    return {
      name: v.name,
      kind: tag.kind,
      source: tag.source,
      owner: tag.owner,
      sizeBytes: v.sizeBytes,
      readOnly: v.readOnly,
      createdAt: v.createdAt,
      expiresAt: v.expiresAt,
      retainedUntil: v.retainedUntil,
      online: tag.online,
      saveSnapshot: tag.saveSnapshot,
      synchronization,
      contentComplete: v.contentComplete,
      activeJob: active?.id,
      lastJob: mine.at(-1)?.id,
    };
  }

  async job(id: string, signal?: AbortSignal): Promise<JobObservation | undefined> {
    const i = await this.#client.getInstance(this.#ns, jobName(id), signal);
    return i === undefined ? undefined : jobOfInstance(i);
  }

  async jobs(signal?: AbortSignal): Promise<JobObservation[]> {
    const all = await this.#client.enumerateInstances(this.#ns, classes.job, signal);
    return all.map((n) => observeJob(validated(concreteJob, n.instance, "job")));
  }
}
