// Pure mappings from what WSAPI shows (a volume, its comment's owner tag, the tasks named after it) to the port's
// CIM observations. WSAPI has no StorageSynchronized or ConcreteJob object, so much is inferred; each rule says so.
//
// Jobs (task → CIM_ConcreteJob):
//   ACTIVE with step counts → Running [OK]; ACTIVE without totalSteps → New [Dormant] (inferred: a queued copy has
//   not started its steps); DONE → Completed [Completed, OK]; CANCELLED → Terminated [Completed, Aborted];
//   FAILED → Exception [Completed, Error], errorCode 1 (the task carries no number; the text is detailedStatus
//   when the array gives it). PercentComplete = completedSteps / totalSteps (100 when DONE).
//   type 1 VV_COPY / 18 ONLINE_COPY → Copy (StartCopy when an earlier copy task on the same volume finished:
//   inferred), 2 PHYS_COPY_RESYNC → Resync, 4 PROMOTE_SV → Restore. Task priority 1/2/3 → High/Same/Low.
// Copies (volume + owner tag + tasks → CIM_StorageSynchronized), tasks matched by name = the volume (inferred
// from P3C's _findTask):
//   virtual (copyType 3): UnSyncAssoc / AfterDelta; RestoreInProgress while a promote task runs on it, Broken
//   when its last promote was cancelled or failed (the array marks the parent "cpf"), else Idle.
//   physical: copyType from the tag's saveSnapshot (UnSyncAssoc / UnSyncUnAssoc), FullCopy. While a task runs:
//   Initialized (queued), ResyncInProgress (first copy or resync), CopyInProgress (a copy onto an earlier one).
//   Otherwise, while the volume is still a PHYSICAL_COPY (2): Broken when its last task was cancelled or
//   failed, else Frozen. Once the array made it a base volume again, the association is gone.
//   WhenSynced = finish time of the last DONE copy or resync task (undefined when the array purged its tasks).
//   contentComplete = false while a task runs or when the last one did not finish DONE (inferred from tasks).
import type {
  CopyObservation,
  CopyPriority,
  JobObservation,
  JobOperation,
  JobState,
  OperationalStatus,
  SynchronizationObservation,
  SyncState,
} from "../port.ts";
import { sourceFromCopyOf, type CopyTag } from "../owner-tag.ts";
import { copyTypes, parseTime, taskStatus, taskTypes, volumeTime, type Task, type Volume } from "./schemas.ts";

const MiB = 1024 * 1024;

export const wsapiPriority: Readonly<Record<"High" | "Same" | "Low", number>> = { High: 1, Same: 2, Low: 3 };

export function priorityOf(n: number | undefined): CopyPriority {
  if (n === 1) return "High";
  if (n === 3) return "Low";
  return "Same";
}

export function isQueued(t: Task): boolean {
  return t.status === taskStatus.active && t.totalSteps === undefined;
}

function jobState(t: Task): JobState {
  switch (t.status) {
    case taskStatus.done:
      return "Completed";
    case taskStatus.cancelled:
      return "Terminated";
    case taskStatus.failed:
      return "Exception";
    default:
      return isQueued(t) ? "New" : "Running";
  }
}

function operationalStatus(state: JobState): OperationalStatus[] {
  if (state === "New") return ["Dormant"];
  if (state === "Completed") return ["Completed", "OK"];
  if (state === "Terminated") return ["Completed", "Aborted"];
  if (state === "Exception") return ["Completed", "Error"];
  return ["OK"];
}

function percent(t: Task): number {
  if (t.status === taskStatus.done) return 100;
  const total = t.totalSteps ?? 0;
  if (total <= 0) return 0;
  return Math.min(100, Math.floor(((t.completedSteps ?? 0) * 100) / total));
}

export function isCopyTask(t: Task): boolean {
  return t.type === taskTypes.vvCopy || t.type === taskTypes.onlineCopy || t.type === taskTypes.physCopyResync;
}

/** `earlier` are the other tasks on the same volume, to tell a first copy from a copy onto an earlier one. */
export function operationOf(t: Task, earlier: readonly Task[]): JobOperation {
  if (t.type === taskTypes.physCopyResync) return "Resync";
  if (t.type === taskTypes.promoteSv) return "Restore";
  const before = earlier.some((e) => e.id < t.id && e.type === t.type && e.status === taskStatus.done);
  return before ? "StartCopy" : "Copy";
}

export function observeTask(t: Task, sameName: readonly Task[]): JobObservation {
  const state = jobState(t);
  const submitted = parseTime(t.startTime) ?? 0;
  const finished = state === "Completed" || state === "Terminated" || state === "Exception";
  const end = finished ? (parseTime(t.finishTime) ?? submitted) : undefined;
  return {
    id: String(t.id),
    operation: operationOf(t, sameName),
    copy: t.name,
    priority: priorityOf(t.priority),
    jobState: state,
    operationalStatus: operationalStatus(state),
    percentComplete: percent(t),
    errorCode: state === "Exception" ? 1 : 0,
    errorDescription: state === "Exception" ? (t.detailedStatus ?? `task ${t.id} failed on the array`) : "",
    timeSubmitted: submitted,
    startTime: state === "New" ? undefined : submitted,
    endTime: end,
  };
}

/** Tasks on a volume, oldest first. */
export function tasksOn(name: string, tasks: readonly Task[]): Task[] {
  return tasks.filter((t) => t.name === name).sort((a, b) => a.id - b.id);
}

function virtualSync(created: number, tasks: readonly Task[]): SynchronizationObservation {
  const promotes = tasks.filter((t) => t.type === taskTypes.promoteSv);
  const last = promotes.at(-1);
  let syncState: SyncState = "Idle";
  if (last?.status === taskStatus.active) syncState = "RestoreInProgress";
  else if (last?.status === taskStatus.cancelled || last?.status === taskStatus.failed) syncState = "Broken";
  const done = promotes.filter((t) => t.status === taskStatus.done).at(-1);
  return {
    copyType: "UnSyncAssoc",
    replicaType: "AfterDelta",
    syncState,
    syncMaintained: false,
    whenSynced: parseTime(done?.finishTime) ?? created,
    percentSynced: last?.status === taskStatus.active ? percent(last) : 100,
    copyPriority: "NotManaged",
  };
}

function physicalSync(v: Volume, tag: CopyTag, copies: readonly Task[]): SynchronizationObservation | undefined {
  const last = copies.at(-1);
  const running = last?.status === taskStatus.active ? last : undefined;
  let syncState: SyncState;
  if (running !== undefined) {
    if (isQueued(running)) syncState = "Initialized";
    else syncState = operationOf(running, copies) === "StartCopy" ? "CopyInProgress" : "ResyncInProgress";
  } else if (v.copyType === copyTypes.physicalCopy) {
    syncState = last?.status === taskStatus.cancelled || last?.status === taskStatus.failed ? "Broken" : "Frozen";
  } else {
    return undefined;
  }
  const synced = copies.filter((t) => t.status === taskStatus.done).at(-1);
  return {
    copyType: tag.saveSnapshot ? "UnSyncAssoc" : "UnSyncUnAssoc",
    replicaType: "FullCopy",
    syncState,
    syncMaintained: false,
    whenSynced: parseTime(synced?.finishTime),
    percentSynced: running !== undefined ? percent(running) : syncState === "Frozen" ? 100 : 0,
    copyPriority: priorityOf(last?.priority),
  };
}

/** A copy as the port sees it; `tasks` are those named after the volume, oldest first. */
export function observeVolumeCopy(v: Volume, tag: CopyTag, tasks: readonly Task[]): CopyObservation {
  const created = volumeTime(v.creationTimeSec, v.creationTime8601) ?? 0;
  const virtual = tag.kind === "Virtual";
  const relevant = tasks.filter((t) => (virtual ? t.type === taskTypes.promoteSv : isCopyTask(t)));
  const last = relevant.at(-1);
  const active = last?.status === taskStatus.active ? last : undefined;
  const sync = virtual ? virtualSync(created, relevant) : physicalSync(v, tag, relevant);
  const contentComplete = virtual || (active === undefined && (last === undefined || last.status === taskStatus.done));
  return {
    name: v.name,
    kind: tag.kind,
    // A member of a volume-set snapshot is tagged "@copyOf" (groups.ts): its source is the volume it copies.
    source: tag.source === sourceFromCopyOf ? (v.copyOf ?? "") : tag.source,
    owner: tag.owner,
    sizeBytes: Math.round(v.sizeMiB * MiB),
    readOnly: v.readOnly ?? false,
    createdAt: created,
    expiresAt: volumeTime(v.expirationTimeSec, v.expirationTime8601),
    retainedUntil: volumeTime(v.retentionTimeSec, v.retentionTime8601),
    online: tag.online,
    saveSnapshot: tag.saveSnapshot,
    synchronization: sync,
    contentComplete,
    activeJob: active === undefined ? undefined : String(active.id),
    lastJob: last === undefined ? undefined : String(last.id),
  };
}
