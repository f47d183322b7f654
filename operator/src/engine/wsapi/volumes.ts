// Volume operations over WSAPI: create (POST /volumes in the class's CPG), grow (PUT action 3), delete, list.
// WSAPI has no data path (hosts read and write through SCSI), so reading and writing come from an injected
// DataPath; without one the driver does not offer the "volumes" capability. Tests inject the test array's.
import { withContext } from "../errors.ts";
import type { CallOptions, VolumeObservation, VolumeOps } from "../port.ts";
import type { ArrayApi } from "./array.ts";
import { observeSet } from "./groups.ts";
import { copyTypes, type Volume } from "./schemas.ts";

const MiB = 1024 * 1024;

export interface DataPath {
  read(name: string, offset: number, length: number): Promise<Buffer>;
  write(name: string, offset: number, data: Uint8Array): Promise<void>;
}

export function observe(v: Volume): VolumeObservation {
  return {
    name: v.name,
    sizeBytes: Math.round(v.sizeMiB * MiB),
    readOnly: v.readOnly ?? false,
    copyOf: v.copyType === copyTypes.base ? undefined : v.copyOf,
    // The array does not show "copy failed" in the documented fields; the engine's copy observation does (tasks).
    contentComplete: true,
  };
}

export function wsapiVolumes(api: ArrayApi, cpg: string, snapCPG: string | undefined, data: DataPath): VolumeOps {
  const at = async <T>(context: string, work: () => Promise<T>): Promise<T> => {
    try {
      return await work();
    } catch (e: unknown) {
      throw withContext(context, e);
    }
  };
  const mustGet = async (name: string, options?: CallOptions): Promise<VolumeObservation> => {
    const v = await api.volume(name, options?.signal);
    if (v === undefined) throw new Error(`volume ${name} vanished`);
    return observe(v);
  };
  return {
    createVolume: (name, sizeBytes, options) =>
      at(`cannot create volume ${name}`, async () => {
        await api.createVolume(name, cpg, Math.ceil(sizeBytes / MiB), snapCPG, options?.signal);
        return mustGet(name, options);
      }),
    resizeVolume: (name, sizeBytes, options) =>
      at(`cannot resize volume ${name}`, async () => {
        const now = await mustGet(name, options);
        await api.act(name, { action: 3, sizeMiB: Math.ceil((sizeBytes - now.sizeBytes) / MiB) }, options?.signal);
        return mustGet(name, options);
      }),
    deleteVolume: (name, options) => at(`cannot delete volume ${name}`, () => api.deleteVolume(name, options?.signal)),
    readVolume: (name, offset, length) => at(`cannot read volume ${name}`, () => data.read(name, offset, length)),
    writeVolume: (name, offset, bytes) => at(`cannot write volume ${name}`, () => data.write(name, offset, bytes)),
    listVolumes: (options) => at("cannot list volumes", async () => (await api.volumes(options?.signal)).map(observe)),
    createVolumeSet: (name, members, options) =>
      at(`cannot create volume set ${name}`, async () => {
        await api.createVolumeSet(name, members, options?.signal);
        const set = await api.volumeSet(name, options?.signal);
        if (set === undefined) throw new Error(`volume set ${name} vanished`);
        return observeSet(set);
      }),
    deleteVolumeSet: (name, options) =>
      at(`cannot delete volume set ${name}`, () => api.deleteVolumeSet(name, options?.signal)),
  };
}
