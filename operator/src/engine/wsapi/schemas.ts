// zod schemas for the WSAPI answers the driver reads (DOMAIN.md §3.1–3.4). They are loose: arrays add members
// between releases and only the members named here are relied on. Times are accepted as epoch seconds or as
// text (ISO 8601; older arrays print "YYYY-MM-DD HH:MM:SS ZONE"). Task ids are accepted as integers or as
// numeric strings (servers differ). Lists are read member by member (array.ts): one malformed record is
// skipped, not fatal. Writes whose documented answer is empty are not parsed at all.
import { z } from "zod";

export const errorBody = z.object({ code: z.number().int(), desc: z.string().optional() }).loose();

export const credentials = z.object({ key: z.string().min(1) }).loose();

/** volumeCopyType (WSAPI131 p.52). */
export const copyTypes = { base: 1, physicalCopy: 2, virtualCopy: 3 } as const;

export const volume = z
  .object({
    id: z.number().int().optional(),
    name: z.string(),
    copyType: z.number().int().optional(),
    copyOf: z.string().optional(),
    readOnly: z.boolean().optional(),
    sizeMiB: z.number(),
    comment: z.string().optional(),
    state: z.number().int().optional(),
    creationTimeSec: z.number().optional(),
    creationTime8601: z.string().optional(),
    expirationTimeSec: z.number().optional(),
    expirationTime8601: z.string().optional(),
    retentionTimeSec: z.number().optional(),
    retentionTime8601: z.string().optional(),
  })
  .loose();
export type Volume = z.infer<typeof volume>;

/** A list answer: members are validated one by one by the reader. */
/** A volume set (GET /volumesets/<name>): `setmembers` is absent on an empty set. */
export const volumeSet = z
  .object({ name: z.string().min(1), setmembers: z.array(z.string()).optional(), comment: z.string().optional() })
  .loose();
export type VolumeSet = z.infer<typeof volumeSet>;

export const memberList = z.object({ total: z.number().int().optional(), members: z.array(z.unknown()) }).loose();

/** taskStatus and taskType (WSAPI131 pp.131-134). */
export const taskStatus = { done: 1, active: 2, cancelled: 3, failed: 4 } as const;
export const taskTypes = { vvCopy: 1, physCopyResync: 2, promoteSv: 4, onlineCopy: 18 } as const;

/** The task types that are copy jobs; every other task (system, remote copy, tuning, …) is not followed. */
export const copyTaskTypes: ReadonlySet<number> = new Set(Object.values(taskTypes));

/** A task id: an integer, or a numeric string as some servers send it. */
export const taskId = z.union([
  z.number().int().positive(),
  z
    .string()
    .regex(/^[0-9]+$/, "a task id must be a positive integer")
    .transform(Number),
]);

export const task = z
  .object({
    id: taskId,
    type: z.number().int(),
    name: z.string(),
    status: z.number().int(),
    completedSteps: z.number().int().optional(),
    totalSteps: z.number().int().optional(),
    startTime: z.union([z.string(), z.number()]).optional(),
    finishTime: z.union([z.string(), z.number()]).optional(),
    priority: z.number().int().optional(),
    // Not in the 1.3.1 guide; later arrays add a free-text detail. Read when present (inferred).
    detailedStatus: z.string().optional(),
  })
  .loose();
export type Task = z.infer<typeof task>;

/** POST createPhysicalCopy, PUT resync / promote: the task started. */
export const taskStarted = z.object({ taskid: taskId }).loose();

/** Epoch milliseconds of a WSAPI time, or undefined when absent or unreadable. */
export function parseTime(value: string | number | undefined): number | undefined {
  if (value === undefined || value === "" || value === "-") return undefined;
  if (typeof value === "number") return value * 1000;
  const direct = Date.parse(value);
  if (!Number.isNaN(direct)) return direct;
  // "2013-03-06 13:31:35 PST": the zone abbreviation is ambiguous; read the wall time as UTC (inferred).
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2})/.exec(value);
  if (m === null) return undefined;
  const t = Date.parse(`${m[1] ?? ""}T${m[2] ?? ""}Z`);
  return Number.isNaN(t) ? undefined : t;
}

export function volumeTime(sec: number | undefined, iso: string | undefined): number | undefined {
  return parseTime(iso) ?? (sec === undefined ? undefined : sec * 1000);
}
