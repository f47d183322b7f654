// Volumes made on the provider itself, for the live contract suite against a real SMI-S provider (Block Services):
// StorageConfigurationService.CreateOrModifyElementFromStoragePool makes a volume of a size in a pool (and grows one
// when TheElement is given), ReturnToStoragePool deletes it. CIM has no data path, so reads and writes are
// Unsupported: a class's engine never gets these (capabilities().volumes stays false in the operator); only a test
// passes them as the engine's `volumes`.
//
// Invariants:
// - the pool is the one named (ElementName or InstanceID), else the first concrete pool (not Primordial) with room
//   for the volume; with none, the refusal lists the pools there are;
// - deleteVolume deletes only the volume of exactly that name, read back just before, and never a volume that holds
//   an owner tag (a copy: those go through deleteCopy, which checks the owner): never on the word of a filter.
import { EngineError, withContext } from "../errors.ts";
import { parseTag } from "../owner-tag.ts";
import type { CallOptions, VolumeObservation, VolumeOps, VolumeSetObservation } from "../port.ts";
import type { CimClient } from "./client.ts";
import { methodError, methodReturn } from "./codes.ts";
import { cim, plain } from "./model.ts";
import { classes, elementTypes, volumeName } from "./names.ts";
import type { Discovery } from "./profile.ts";
import type { VolumeView } from "./reader.ts";
import type { InstanceName } from "./xml.ts";

export interface CimVolumeAccess {
  readonly client: CimClient;
  readonly namespace: string;
  discovery(signal?: AbortSignal): Promise<Discovery>;
  volume(name: string, signal?: AbortSignal): Promise<VolumeView | undefined>;
  volumes(signal?: AbortSignal): Promise<readonly VolumeView[]>;
}

export interface CimVolumeOptions {
  /** The pool new volumes go to (its ElementName or InstanceID); default: the first with room. */
  readonly pool?: string;
}

interface Pool {
  readonly ref: InstanceName;
  readonly id: string;
  readonly name: string;
  readonly remaining: number;
  readonly primordial: boolean;
}

const noDataPath = (what: string) =>
  Promise.reject(new EngineError(`cannot ${what}: CIM has no data path`, { code: "Unsupported" }));

const notBuilt = (what: string) =>
  Promise.reject(new EngineError(`cannot ${what}: volume sets are not built on CIM yet`, { code: "Unsupported" }));

export const observation = (v: VolumeView): VolumeObservation => ({
  name: v.name,
  sizeBytes: v.sizeBytes,
  readOnly: v.readOnly,
  copyOf: v.copyOf,
  contentComplete: v.contentComplete,
});

export function cimVolumeOps(access: CimVolumeAccess, opts: CimVolumeOptions = {}): VolumeOps {
  const { client, namespace } = access;

  async function pools(signal?: AbortSignal): Promise<Pool[]> {
    const all = await client.enumerateInstances(namespace, classes.pool, signal);
    return all.map(({ name, instance }) => {
      const p = plain(instance);
      return {
        ref: name,
        id: typeof p.InstanceID === "string" ? p.InstanceID : "",
        name: typeof p.ElementName === "string" ? p.ElementName : "",
        remaining: typeof p.RemainingManagedSpace === "number" ? p.RemainingManagedSpace : 0,
        primordial: p.Primordial === true,
      };
    });
  }

  async function choosePool(sizeBytes: number, signal?: AbortSignal): Promise<Pool> {
    const all = await pools(signal);
    const named = opts.pool;
    const found =
      named === undefined
        ? all.find((p) => !p.primordial && p.remaining >= sizeBytes)
        : all.find((p) => p.name === named || p.id === named);
    if (found !== undefined) return found;
    const listed = all.map((p) => `${p.name || p.id} (${p.remaining} bytes free)`).join(", ") || "none";
    throw new EngineError(
      named === undefined
        ? `no storage pool has room for ${sizeBytes} bytes (pools: ${listed})`
        : `no storage pool is called ${named} (pools: ${listed})`,
      { code: named === undefined ? "NoSpace" : "InvalidInput" },
    );
  }

  async function invoke(method: string, params: Parameters<CimClient["invokeMethod"]>[3], signal?: AbortSignal) {
    const d = await access.discovery(signal);
    const r = await client.invokeMethod(namespace, d.configurationService, method, params, signal);
    if (r.returnValue !== methodReturn.Completed && r.returnValue !== methodReturn.JobStarted)
      throw methodError(method, r.returnValue);
  }

  /** The volume once the provider shows it (a method that started a job answers before the volume is there). */
  async function settled(name: string, sizeBytes: number, signal?: AbortSignal): Promise<VolumeObservation> {
    for (let i = 0; ; i++) {
      const v = await access.volume(name, signal);
      if (v !== undefined && v.sizeBytes >= sizeBytes) return observation(v);
      if (i === 120) throw new EngineError(`the provider did not show volume ${name} within 60 s`, { code: "Timeout" });
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  return {
    async createVolume(name: string, sizeBytes: number, options?: CallOptions) {
      try {
        const signal = options?.signal;
        if ((await access.volume(name, signal)) !== undefined)
          throw new EngineError(`volume ${name} exists`, { code: "AlreadyExists" });
        const pool = await choosePool(sizeBytes, signal);
        await invoke(
          "CreateOrModifyElementFromStoragePool",
          {
            ElementName: cim.str(name),
            ElementType: cim.u16(elementTypes.StorageVolume),
            Size: cim.u64(sizeBytes),
            InPool: cim.ref(pool.ref),
          },
          signal,
        );
        return await settled(name, sizeBytes, signal);
      } catch (e: unknown) {
        throw withContext(`cannot create volume ${name}`, e);
      }
    },
    async resizeVolume(name: string, sizeBytes: number, options?: CallOptions) {
      try {
        const signal = options?.signal;
        const v = await access.volume(name, signal);
        if (v === undefined) throw new EngineError(`no volume ${name}`, { code: "NotFound" });
        if (sizeBytes < v.sizeBytes)
          throw new EngineError(`volume ${name} is ${v.sizeBytes} bytes: volumes only grow`, { code: "InvalidInput" });
        if (sizeBytes === v.sizeBytes) return observation(v);
        const d = await access.discovery(signal);
        await invoke(
          "CreateOrModifyElementFromStoragePool",
          { TheElement: cim.ref(volumeName(d.system, name)), Size: cim.u64(sizeBytes) },
          signal,
        );
        return await settled(name, sizeBytes, signal);
      } catch (e: unknown) {
        throw withContext(`cannot resize volume ${name}`, e);
      }
    },
    async deleteVolume(name: string, options?: CallOptions) {
      try {
        const signal = options?.signal;
        const v = await access.volume(name, signal);
        if (v === undefined) return;
        if (v.name !== name)
          throw new EngineError(`the provider answered for ${v.name}, not ${name}`, { code: "Internal" });
        const tag = parseTag(v.comment);
        if (tag !== undefined)
          throw new EngineError(
            `volume ${name} is the copy of ${tag.owner.namespace}/${tag.owner.name}: it is deleted with its copy`,
            { code: "InUse" },
          );
        const d = await access.discovery(signal);
        await invoke("ReturnToStoragePool", { TheElement: cim.ref(volumeName(d.system, name)) }, signal);
      } catch (e: unknown) {
        throw withContext(`cannot delete volume ${name}`, e);
      }
    },
    readVolume: () => noDataPath("read a volume"),
    writeVolume: () => noDataPath("write a volume"),
    async listVolumes(options?: CallOptions) {
      return (await access.volumes(options?.signal)).map(observation);
    },
    createVolumeSet: (): Promise<VolumeSetObservation> => notBuilt("make a volume set"),
    deleteVolumeSet: () => notBuilt("delete a volume set"),
  };
}
