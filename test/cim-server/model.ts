// The CIM test array's objects and methods over its embedded engine: TPD_StorageVolume from the engine's
// volumes (Comment kept here, as the array keeps it), TPD_StorageSynchronized from a copy's synchronization,
// TPD_ConcreteJob from the engine's jobs this array started, and the Copy Services / Replication Services methods
// of DOMAIN.md §2.2 and §2.4. TEST ONLY.
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import {
  copyOperations,
  copyPriorities,
  syncStates,
  copyTypes,
  replicaTypes,
  jobStates,
  operationalStatuses,
} from "../../operator/src/cim/values.ts";
import type { CopyPriority, JobObservation, OwnerTag } from "../../operator/src/engine/port.ts";
import { cim, key, keyText, plain } from "../../operator/src/engine/cim/model.ts";
import { classes, jobName, serviceName, volumeName } from "../../operator/src/engine/cim/names.ts";
import {
  parseEmbedded,
  type CimValue,
  type Instance,
  type InstanceName,
  type IntrinsicParam,
  type NamedInstance,
  type ReturnValue,
} from "../../operator/src/engine/cim/xml.ts";
import { CimFault } from "./server.ts";

export const systemName = "TPD-1234567";

let creates = 0;
const arrayOwner = (): OwnerTag => ({ namespace: "cim-test-array", name: "array", uid: `create-${++creates}` });

function text(v: CimValue | undefined): string | undefined {
  return v?.kind === "scalar" && v.text !== null ? v.text : undefined;
}
function num(v: CimValue | undefined): number | undefined {
  const t = text(v);
  return t === undefined ? undefined : Number(t);
}
function device(v: CimValue | undefined, what: string): string {
  const d = v?.kind === "ref" && v.ref !== null ? keyText(v.ref, "DeviceID") : undefined;
  if (d === undefined) throw new CimFault(4, `${what} is required`);
  return d;
}
function goal(v: CimValue | undefined): Record<string, unknown> {
  const t = text(v);
  return t === undefined ? {} : plain(parseEmbedded(t));
}
const hours = (ms: unknown): number | undefined => (typeof ms === "number" ? Math.round(ms / 3_600_000) : undefined);
function priorityName(n: number | undefined): CopyPriority | undefined {
  return Object.entries(copyPriorities).find(([, v]) => v === n)?.[0] as CopyPriority | undefined;
}

export class CimArrayModel {
  readonly engine: EmbeddedEngine;
  readonly comments = new Map<string, string>();
  readonly created = new Map<string, number>();
  readonly jobs = new Set<string>();
  readonly deleted: string[] = [];
  /**
   * The CPGs (TPD_DynamicStoragePool) volumes are made in over CIM, and a primordial pool beside them; the volumes
   * made in each, for RemainingManagedSpace.
   */
  readonly pools = [
    { id: "TPD:FC_r6", name: "FC_r6", total: 1024 ** 4, primordial: false },
    { id: "TPD:SSD_r1", name: "SSD_r1", total: 64 * 1024 ** 2, primordial: false },
    { id: "TPD:Primordial", name: "Primordial", total: 2 * 1024 ** 4, primordial: true },
  ];
  readonly inPool = new Map<string, string>();

  constructor(engine: EmbeddedEngine) {
    this.engine = engine;
  }

  async #volume(name: string): Promise<Instance | undefined> {
    const v = (await this.engine.listVolumes()).find((x) => x.name === name);
    if (v === undefined) return undefined;
    const c = await this.engine.observeCopy(name);
    if (!this.created.has(name)) this.created.set(name, c?.createdAt ?? Date.now());
    return {
      className: classes.volume,
      properties: {
        DeviceID: cim.str(name),
        ElementName: cim.str(name),
        BlockSize: cim.u64(512),
        NumberOfBlocks: cim.u64(v.sizeBytes / 512),
        Comment: cim.str(this.comments.get(name) ?? null),
        ReadOnly: cim.bool(v.readOnly),
        CopyOf: cim.str(v.copyOf ?? null),
        CreationTime: cim.time(c?.createdAt ?? this.created.get(name)),
        ExpirationTime: cim.time(c?.expiresAt),
        RetentionTime: cim.time(c?.retainedUntil),
        OperationalStatus: cim.u16s(v.contentComplete ? [2] : [3]),
      },
    };
  }

  async #poolInstances(): Promise<NamedInstance[]> {
    const sizes = new Map((await this.engine.listVolumes()).map((v) => [v.name, v.sizeBytes]));
    return this.pools.map((p) => {
      let used = 0;
      for (const [volume, pool] of this.inPool) if (pool === p.id) used += sizes.get(volume) ?? 0;
      return {
        name: { className: classes.pool, keys: { InstanceID: key.str(p.id) } },
        instance: {
          className: classes.pool,
          properties: {
            InstanceID: cim.str(p.id),
            ElementName: cim.str(p.name),
            Primordial: cim.bool(p.primordial),
            TotalManagedSpace: cim.u64(p.total),
            RemainingManagedSpace: cim.u64(p.total - used),
          },
        },
      };
    });
  }

  /** A job as its TPD_ConcreteJob instance (GetInstance, and the indications' SourceInstance). */
  jobInstance(j: JobObservation): Instance {
    return {
      className: classes.job,
      properties: {
        InstanceID: cim.str(j.id),
        Name: cim.str(j.operation),
        ElementName: cim.str(j.copy),
        Priority: cim.u32(copyPriorities[j.priority]),
        JobState: cim.u16(jobStates[j.jobState]),
        OperationalStatus: cim.u16s(j.operationalStatus.map((s) => operationalStatuses[s])),
        PercentComplete: cim.u16(j.percentComplete),
        ErrorCode: cim.u16(j.errorCode),
        ErrorDescription: cim.str(j.errorDescription),
        TimeSubmitted: cim.time(j.timeSubmitted),
        StartTime: cim.time(j.startTime),
        TimeOfLastStateChange: cim.time(j.endTime ?? j.startTime ?? j.timeSubmitted),
      },
    };
  }

  async #allJobs(): Promise<JobObservation[]> {
    const out: JobObservation[] = [];
    for (const id of this.jobs) {
      const j = await this.engine.observeJob(id);
      if (j !== undefined) out.push(j);
    }
    return out;
  }

  async #engineOwner(name: string): Promise<OwnerTag> {
    const c = await this.engine.observeCopy(name);
    if (c === undefined) throw new CimFault(6, `${name} is no copy`);
    return c.owner;
  }

  async intrinsic(method: string, params: Readonly<Record<string, IntrinsicParam>>): Promise<ReturnValue> {
    const cls = params.ClassName?.kind === "className" ? params.ClassName.className : undefined;
    const obj = params.ObjectName?.kind === "name" ? params.ObjectName.name : undefined;
    const inst = params.InstanceName?.kind === "name" ? params.InstanceName.name : undefined;
    switch (method) {
      case "EnumerateInstanceNames":
        if (cls === classes.configurationService || cls === classes.replicationService)
          return { kind: "names", names: [serviceName(cls, systemName)] };
        break;
      case "EnumerateInstances":
        if (cls === classes.volume) {
          const out: NamedInstance[] = [];
          for (const v of await this.engine.listVolumes()) {
            const i = await this.#volume(v.name);
            if (i !== undefined) out.push({ name: volumeName(systemName, v.name), instance: i });
          }
          return { kind: "instances", instances: out };
        }
        if (cls === classes.pool) return { kind: "instances", instances: await this.#poolInstances() };
        if (cls === classes.job)
          return {
            kind: "instances",
            instances: (await this.#allJobs()).map((j) => ({ name: jobName(j.id), instance: this.jobInstance(j) })),
          };
        break;
      case "GetInstance": {
        if (inst?.className === classes.volume) {
          const i = await this.#volume(keyText(inst, "DeviceID") ?? "");
          if (i === undefined) throw new CimFault(6, "no such volume");
          return { kind: "instance", instance: i };
        }
        if (inst?.className === classes.job) {
          const id = keyText(inst, "InstanceID") ?? "";
          const j = this.jobs.has(id) ? await this.engine.observeJob(id) : undefined;
          if (j === undefined) throw new CimFault(6, "no such job");
          return { kind: "instance", instance: this.jobInstance(j) };
        }
        break;
      }
      case "References":
      case "Associators":
        if (obj?.className === classes.volume) return this.#related(method, keyText(obj, "DeviceID") ?? "", params);
        break;
    }
    throw new CimFault(7, `${method} of ${cls ?? obj?.className ?? inst?.className ?? "?"} is not supported here`);
  }

  async #related(method: string, name: string, params: Readonly<Record<string, IntrinsicParam>>): Promise<ReturnValue> {
    const assoc = params.AssocClass?.kind === "className" ? params.AssocClass.className : undefined;
    const result = params.ResultClass?.kind === "className" ? params.ResultClass.className : undefined;
    if (method === "References" && (result ?? assoc) === classes.synchronized) {
      const c = await this.engine.observeCopy(name);
      const s = c?.synchronization;
      if (c === undefined || s === undefined) return { kind: "instances", instances: [] };
      const source = volumeName(systemName, c.source);
      const target = volumeName(systemName, name);
      const keys = {
        SystemElement: { kind: "ref", ref: source },
        SyncedElement: { kind: "ref", ref: target },
      } as const;
      return {
        kind: "instances",
        instances: [
          {
            name: { className: classes.synchronized, keys },
            instance: {
              className: classes.synchronized,
              properties: {
                SystemElement: cim.ref(source),
                SyncedElement: cim.ref(target),
                CopyType: cim.u16(copyTypes[s.copyType]),
                ReplicaType: cim.u16(replicaTypes[s.replicaType]),
                SyncState: cim.u16(syncStates[s.syncState]),
                SyncMaintained: cim.bool(s.syncMaintained),
                WhenSynced: cim.time(s.whenSynced),
                PercentSynced: cim.u16(s.percentSynced),
                CopyPriority: cim.u16(copyPriorities[s.copyPriority]),
              },
            },
          },
        ],
      };
    }
    if (method === "Associators" && assoc === classes.affectedJobElement) {
      const mine = (await this.#allJobs()).filter((j) => j.copy === name);
      return {
        kind: "instances",
        instances: mine.map((j) => ({ name: jobName(j.id), instance: this.jobInstance(j) })),
      };
    }
    return { kind: "instances", instances: [] };
  }

  #started(j: JobObservation): ReturnValue {
    this.jobs.add(j.id);
    return { kind: "method", value: cim.u32(4096), out: { Job: cim.ref(jobName(j.id)) } };
  }

  async extrinsic(method: string, target: InstanceName, p: Readonly<Record<string, CimValue>>): Promise<ReturnValue> {
    const done: ReturnValue = { kind: "method", value: cim.u32(0), out: {} };
    switch (method) {
      case "CreateReplica": {
        if (num(p.CopyType) !== 4) return { kind: "method", value: cim.u32(5), out: {} };
        const name = text(p.ElementName) ?? "";
        const g = goal(p.TargetSettingGoal);
        const expirationHours = hours(g.ExpirationTimer);
        const retentionHours = hours(g.RetentionTimer);
        await this.engine.createVirtualCopy({
          name,
          source: device(p.SourceElement, "SourceElement"),
          readOnly: g.ReadOnly === true,
          ...(expirationHours === undefined ? {} : { expirationHours }),
          ...(retentionHours === undefined ? {} : { retentionHours }),
          owner: arrayOwner(),
        });
        if (typeof g.Comment === "string") this.comments.set(name, g.Comment);
        return { kind: "method", value: cim.u32(0), out: { TargetElement: cim.ref(volumeName(systemName, name)) } };
      }
      case "AttachOrModifyReplica": {
        const copyType = num(p.CopyType);
        if (copyType !== 4 && copyType !== 5) return { kind: "method", value: cim.u32(5), out: {} };
        const name = device(p.TargetElement, "TargetElement");
        const g = goal(p.Goal);
        const priority = priorityName(num(p.CopyPriority));
        const { job } = await this.engine.createPhysicalCopy({
          name,
          source: device(p.SourceElement, "SourceElement"),
          online: false,
          saveSnapshot: copyType === 4,
          ...(priority === undefined ? {} : { priority }),
          owner: arrayOwner(),
        });
        if (typeof g.Comment === "string") this.comments.set(name, g.Comment);
        return this.#started(job);
      }
      case "CreateElementReplica": {
        const name = text(p.ElementName) ?? "";
        const g = goal(p.TargetSettingGoal);
        const size = num(p.Size);
        const { job } = await this.engine.createPhysicalCopy({
          name,
          source: device(p.SourceElement, "SourceElement"),
          online: true,
          saveSnapshot: false,
          ...(size === undefined ? {} : { sizeBytes: size }),
          owner: arrayOwner(),
        });
        if (typeof g.Comment === "string") this.comments.set(name, g.Comment);
        const r = this.#started(job);
        return r.kind === "method"
          ? { ...r, out: { ...r.out, TargetElement: cim.ref(volumeName(systemName, name)) } }
          : r;
      }
      case "ModifySynchronization": {
        const sync = p.Synchronization;
        const synced = sync?.kind === "ref" ? sync.ref?.keys.SyncedElement : undefined;
        const copy = synced?.kind === "ref" ? keyText(synced.ref, "DeviceID") : undefined;
        if (copy === undefined) return { kind: "method", value: cim.u32(5), out: {} };
        const op = num(p.Operation);
        const owner = await this.#engineOwner(copy);
        if (op === copyOperations.StopCopy) {
          await this.engine.halt({ copy, owner });
          return done;
        }
        const operation = (["Detach", "Resync", "Restore", "StartCopy"] as const).find((o) => copyOperations[o] === op);
        if (operation === undefined) return { kind: "method", value: cim.u32(5), out: {} };
        const priority = priorityName(num(p.CopyPriority));
        const job = await this.engine.startJob({
          copy,
          owner,
          operation,
          ...(priority === undefined ? {} : { priority }),
        });
        return operation === "Detach" ? done : this.#started(job);
      }
      case "RequestStateChange": {
        const id = keyText(target, "InstanceID") ?? "";
        if (!this.jobs.has(id)) throw new CimFault(6, "no such job");
        if (num(p.RequestedState) !== 4) return { kind: "method", value: cim.u32(5), out: {} };
        const j = await this.engine.observeJob(id);
        if (j === undefined) throw new CimFault(6, "no such job");
        await this.engine.halt({ job: id, owner: await this.#engineOwner(j.copy) });
        return { kind: "method", value: cim.u32(4096), out: {} };
      }
      case "CreateOrModifyElementFromStoragePool": {
        const size = num(p.Size);
        if (size === undefined || !(size > 0)) return { kind: "method", value: cim.u32(5), out: {} };
        if (p.TheElement?.kind === "ref" && p.TheElement.ref !== null) {
          // Modify: grow the volume (a smaller size is refused by the engine, as by the array).
          const name = device(p.TheElement, "TheElement");
          await this.engine.volumes.resizeVolume(name, size);
          return { kind: "method", value: cim.u32(0), out: { TheElement: p.TheElement, Size: cim.u64(size) } };
        }
        const name = text(p.ElementName) ?? "";
        const poolId =
          p.InPool?.kind === "ref" && p.InPool.ref !== null ? keyText(p.InPool.ref, "InstanceID") : undefined;
        const pool = this.pools.find((x) => x.id === poolId);
        if (num(p.ElementType) !== 2 || name === "" || pool === undefined || pool.primordial)
          return { kind: "method", value: cim.u32(5), out: {} };
        const free = (await this.#poolInstances()).find((i) => keyText(i.name, "InstanceID") === pool.id);
        const remaining = Number(text(free?.instance.properties.RemainingManagedSpace) ?? 0);
        if (size > remaining) return { kind: "method", value: cim.u32(4), out: {} };
        if ((await this.engine.listVolumes()).some((v) => v.name === name))
          return { kind: "method", value: cim.u32(4), out: {} };
        await this.engine.volumes.createVolume(name, size);
        this.inPool.set(name, pool.id);
        return {
          kind: "method",
          value: cim.u32(0),
          out: { TheElement: cim.ref(volumeName(systemName, name)), Size: cim.u64(size) },
        };
      }
      case "ReturnToStoragePool": {
        const name = device(p.TheElement, "TheElement");
        const c = await this.engine.observeCopy(name);
        if (c !== undefined) await this.engine.deleteCopy({ name, owner: c.owner });
        else await this.engine.volumes.deleteVolume(name);
        this.comments.delete(name);
        this.inPool.delete(name);
        this.created.delete(name);
        this.deleted.push(name);
        return done;
      }
    }
    throw new CimFault(17, `method ${method} not found`);
  }
}
