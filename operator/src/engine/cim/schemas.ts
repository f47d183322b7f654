// The instances the cim driver reads, as zod schemas over model.ts's plain() records: TPD_StorageVolume,
// TPD_StorageSynchronized, TPD_ConcreteJob, CIM_RegisteredProfile. Value maps come from cim/values.ts; a value
// outside them (a vendor-specific state) fails validation and the call reports a malformed answer rather than a
// guess. Property names follow CIM / SMI-S; the volume properties past ElementName/NumberOfBlocks/BlockSize
// (Comment, ReadOnly, CopyOf, CreationTime, ExpirationTime, RetentionTime) are inferred for 3PAR (docs/cim.md).
import { z } from "zod";
import {
  copyPriorities,
  copyTypes,
  jobStates,
  operationalStatuses,
  replicaTypes,
  syncStates,
  type CopyPriority,
  type CopyType,
  type JobState,
  type OperationalStatus,
  type ReplicaType,
  type SyncState,
} from "../../cim/values.ts";
import type { InstanceName } from "./xml.ts";

function byNumber<T extends string>(map: Readonly<Record<T, number>>, what: string): z.ZodType<T> {
  const reverse = new Map<number, T>((Object.keys(map) as T[]).map((k) => [map[k], k]));
  return z.number().transform((n, ctx) => {
    const name = reverse.get(n);
    if (name === undefined) {
      ctx.addIssue({ code: "custom", message: `${n} is no ${what}` });
      return z.NEVER;
    }
    return name;
  });
}

const instanceName = z.custom<InstanceName>(
  (v) => typeof v === "object" && v !== null && typeof (v as { className?: unknown }).className === "string",
);
const ms = z.number().nullable().optional();

export const storageVolume = z.object({
  DeviceID: z.string(),
  ElementName: z.string(),
  BlockSize: z.number().int().positive(),
  NumberOfBlocks: z.number().int().min(0),
  Comment: z.string().nullable().optional(),
  ReadOnly: z.boolean().optional(),
  CopyOf: z.string().nullable().optional(),
  CreationTime: ms,
  ExpirationTime: ms,
  RetentionTime: ms,
  OperationalStatus: z.array(z.number()).optional(),
});
export type StorageVolume = z.infer<typeof storageVolume>;

export const storageSynchronized = z.object({
  SystemElement: instanceName,
  SyncedElement: instanceName,
  CopyType: byNumber<CopyType>(copyTypes, "CopyType"),
  ReplicaType: byNumber<ReplicaType>(replicaTypes, "ReplicaType"),
  SyncState: byNumber<SyncState>(syncStates, "SyncState"),
  SyncMaintained: z.boolean(),
  WhenSynced: ms,
  PercentSynced: z.number().min(0).max(101).optional(),
  CopyPriority: byNumber<CopyPriority>(copyPriorities, "CopyPriority").optional(),
});
export type StorageSynchronized = z.infer<typeof storageSynchronized>;

export const concreteJob = z.object({
  InstanceID: z.string(),
  /** The operation (Copy, Resync, StartCopy, Restore): how the test array names 3PAR's task types. */
  Name: z.string(),
  /** The volume the task runs on (a 3PAR task is named after its volume). */
  ElementName: z.string(),
  Priority: z.number().optional(),
  JobState: byNumber<JobState>(jobStates, "JobState"),
  OperationalStatus: z.array(byNumber<OperationalStatus>(operationalStatuses, "OperationalStatus")),
  PercentComplete: z.number().min(0).max(101),
  ErrorCode: z.number().nullable().optional(),
  ErrorDescription: z.string().nullable().optional(),
  TimeSubmitted: ms,
  StartTime: ms,
  TimeOfLastStateChange: ms,
});
export type ConcreteJob = z.infer<typeof concreteJob>;

export const registeredProfile = z.object({
  RegisteredName: z.string(),
  RegisteredOrganization: z.number().optional(),
  RegisteredVersion: z.string().optional(),
});
