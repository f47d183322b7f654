// The test array's WSAPI JSON for volumes and tasks (DOMAIN.md §3.3–3.4), rendered from the embedded engine's
// observations. Times are ISO 8601 (8601 fields) and epoch seconds (Sec fields), from the engine's clock.
// A queued physical copy is an ACTIVE task without step counts; a running one reports totalSteps 100 and
// completedSteps = its percentage (a real array counts regions; only the ratio is used).
import type { CopyObservation, JobObservation, VolumeObservation } from "../../operator/src/engine/port.ts";
import type { ArrayState, InternalSnapshot, TaskRecord } from "./state.ts";

const MiB = 1024 * 1024;

function times(prefix: string, ms: number | undefined): Record<string, unknown> {
  if (ms === undefined) return {};
  return { [`${prefix}Sec`]: Math.floor(ms / 1000), [`${prefix}8601`]: new Date(ms).toISOString() };
}

export function renderVolume(
  state: ArrayState,
  v: VolumeObservation,
  copy: CopyObservation | undefined,
): Record<string, unknown> {
  let copyType = 1;
  if (copy?.kind === "Virtual") copyType = 3;
  else if (copy?.kind === "Physical" && copy.synchronization !== undefined) copyType = 2;
  const comment = state.comments.get(v.name);
  return {
    id: state.idOf(v.name),
    name: v.name,
    sizeMiB: Math.ceil(v.sizeBytes / MiB),
    readOnly: v.readOnly,
    copyType,
    provisioningType: copyType === 3 ? 3 : 2,
    ...(copyType === 1 || copy === undefined ? {} : { copyOf: state.chainOf.get(v.name) ?? copy.source }),
    state: 1,
    ...(comment === undefined ? {} : { comment }),
    ...times("creationTime", copy?.createdAt ?? state.created.get(v.name)),
    ...times("expirationTime", copy?.expiresAt),
    ...times("retentionTime", copy?.retainedUntil),
  };
}

const priorities = { High: 1, Same: 2, Low: 3, Urgent: 1, NotManaged: 2 } as const;

/** An online copy's internal snapshot: an untagged virtual copy (SNP). */
export function renderInternal(state: ArrayState, snap: InternalSnapshot): Record<string, unknown> {
  return {
    id: state.idOf(snap.name),
    name: snap.name,
    sizeMiB: snap.sizeMiB,
    readOnly: snap.readOnly,
    copyType: 3,
    provisioningType: 3,
    copyOf: snap.copyOf,
    state: 1,
    ...times("creationTime", snap.created),
  };
}

/** A task id as the array sends it: an integer, or a numeric string with the stringTaskIds quirk. */
export function idOut(state: ArrayState, id: number): number | string {
  return state.quirks.stringTaskIds ? String(id) : id;
}

export function renderTask(state: ArrayState, record: TaskRecord, job: JobObservation): Record<string, unknown> {
  let status = 2;
  if (job.jobState === "Completed") status = 1;
  else if (job.jobState === "Terminated") status = 3;
  else if (job.jobState === "Exception" || job.jobState === "Killed") status = 4;
  const running = status === 2 && job.jobState !== "New";
  return {
    id: idOut(state, record.id),
    type: record.type,
    name: record.name,
    status,
    ...(running ? { completedSteps: job.percentComplete, totalSteps: 100 } : {}),
    startTime: new Date(job.startTime ?? job.timeSubmitted).toISOString(),
    ...(job.endTime === undefined ? {} : { finishTime: new Date(job.endTime).toISOString() }),
    priority: priorities[job.priority],
    user: "3paradm",
    ...(status === 4 ? { detailedStatus: job.errorDescription } : {}),
  };
}

/**
 * The array's own tasks (foreignTasks quirk): a system task and a region move named like a copy, one active, and
 * a remote-copy sync. None is a copy job; a driver that follows them would report them as one.
 */
export function foreignTasks(state: ArrayState, names: readonly string[]): Record<string, unknown>[] {
  const at = new Date(state.clock.now()).toISOString();
  const named = names[0] ?? "vv-of-someone";
  return [
    {
      id: idOut(state, 900001),
      type: 15,
      name: "sys_maintenance",
      status: 2,
      completedSteps: 1,
      totalSteps: 9,
      startTime: at,
      priority: 2,
      user: "3parsvc",
    },
    {
      id: idOut(state, 900002),
      type: 3,
      name: named,
      status: 2,
      completedSteps: 3,
      totalSteps: 10,
      startTime: at,
      priority: 2,
      user: "3parsvc",
    },
    {
      id: idOut(state, 900003),
      type: 5,
      name: named,
      status: 1,
      startTime: at,
      finishTime: at,
      priority: 2,
      user: "3parsvc",
    },
  ];
}

/** A record that lacks a required field (malformedRecord quirk). */
export const malformedVolume = { id: 999, name: "half-written-record", copyType: 1 } as const;
export const malformedTask = { id: 999999, name: "half-written-task", status: 2 } as const;
