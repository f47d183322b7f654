// The CIM / SMI-S Copy Services vocabulary (DOMAIN.md §1): value names as our API spells them (the CIM value
// names without spaces) and their numbers on the wire. This module imports nothing: the API schemas, the engine
// port and every driver share it, so a SyncState means the same thing everywhere.

/** CIM_StorageSynchronized.CopyType. */
export const copyTypes = { Async: 2, Sync: 3, UnSyncAssoc: 4, UnSyncUnAssoc: 5 } as const;
export type CopyType = keyof typeof copyTypes;

/** CIM_StorageSynchronized.ReplicaType. */
export const replicaTypes = { NotSpecified: 0, FullCopy: 2, BeforeDelta: 3, AfterDelta: 4, Log: 5 } as const;
export type ReplicaType = keyof typeof replicaTypes;

/** CIM_StorageSynchronized.SyncState. */
export const syncStates = {
  Unknown: 0,
  Initialized: 2,
  PrepareInProgress: 3,
  Prepared: 4,
  ResyncInProgress: 5,
  Synchronized: 6,
  FractureInProgress: 7,
  QuiesceInProgress: 8,
  Quiesced: 9,
  RestoreInProgress: 10,
  Idle: 11,
  Broken: 12,
  Fractured: 13,
  Frozen: 14,
  CopyInProgress: 15,
} as const;
export type SyncState = keyof typeof syncStates;

/** CIM_StorageSynchronized.CopyPriority. */
export const copyPriorities = { NotManaged: 0, Low: 1, Same: 2, High: 3, Urgent: 4 } as const;
export type CopyPriority = keyof typeof copyPriorities;

/** CIM_ConcreteJob.JobState. */
export const jobStates = {
  New: 2,
  Starting: 3,
  Running: 4,
  Suspended: 5,
  ShuttingDown: 6,
  Completed: 7,
  Terminated: 8,
  Killed: 9,
  Exception: 10,
  Service: 11,
  QueryPending: 12,
} as const;
export type JobState = keyof typeof jobStates;

/** JobStates after which a job never changes again. */
export const finishedJobStates: readonly JobState[] = ["Completed", "Terminated", "Killed", "Exception"];

/**
 * CIM_ManagedSystemElement.OperationalStatus as used on jobs: a finished job is [Completed, OK] or [Completed, Error].
 */
export const operationalStatuses = {
  Unknown: 0,
  Other: 1,
  OK: 2,
  Degraded: 3,
  Stressed: 4,
  PredictiveFailure: 5,
  Error: 6,
  NonRecoverableError: 7,
  Starting: 8,
  Stopping: 9,
  Stopped: 10,
  InService: 11,
  NoContact: 12,
  LostCommunication: 13,
  Aborted: 14,
  Dormant: 15,
  SupportingEntityInError: 16,
  Completed: 17,
  PowerMode: 18,
} as const;
export type OperationalStatus = keyof typeof operationalStatuses;

/** The job operations a CopyJob can ask for; ModifySynchronization codes (legacy Copy Services, DOMAIN.md §1.3). */
export const copyOperations = { Detach: 2, Resync: 4, Restore: 5, StartCopy: 12, StopCopy: 13 } as const;

/** The keys of a value map, as a non-empty tuple (what z.enum wants). */
export function names<T extends Record<string, number>>(map: T): [keyof T & string, ...(keyof T & string)[]] {
  const keys = Object.keys(map) as (keyof T & string)[];
  const [first, ...rest] = keys;
  if (first === undefined) throw new Error("empty value map");
  return [first, ...rest];
}
