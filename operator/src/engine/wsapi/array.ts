// Typed reads and writes of the WSAPI resources the engine uses (DOMAIN.md §3.2–3.4), over WsapiClient. Reads
// are idempotent and retried; a 404 on a read means "not there" and is undefined, not an error.
// What each call parses is only what it needs:
// - writes whose documented answer is empty (createSnapshot, a comment, stop, grow, delete, cancel) accept any
//   body, since servers differ in what they add;
// - writes that start a task read `taskid` only, as an integer or a numeric string;
// - lists are read member by member: a malformed member is skipped with a warning and counted (onMalformed),
//   unless it is the very object the caller asked about (then the read fails, naming the field);
// - only copy tasks (copyTaskTypes) exist for the driver: the array's other tasks are never followed;
// - GET /tasks is shared: reads that come while one is in flight, or within tasksTtlMs of its answer, get that
//   answer (every running job and copy polls, and one list serves them all); any write through this API drops
//   it, so a caller never misses a task it just started.
import type { z } from "zod";
import { EngineError, isEngineError } from "../errors.ts";
import { describeIssue, type Call, type WsapiClient, type WsapiLogger } from "./client.ts";
import {
  copyTaskTypes,
  memberList,
  task,
  taskStarted,
  volume,
  volumeSet,
  type Task,
  type Volume,
  type VolumeSet,
} from "./schemas.ts";

type Signal = AbortSignal | undefined;

export type RecordKind = "volume" | "task" | "volumeSet";

export interface ArrayApiOptions {
  readonly logger?: WsapiLogger | undefined;
  /** How long one GET /tasks answer serves later reads (default 250 ms; 0: only reads in flight share it). */
  readonly tasksTtlMs?: number | undefined;
  /** Called once per malformed list member skipped (for a metric). */
  readonly onMalformed?: ((kind: RecordKind) => void) | undefined;
}

export class ArrayApi {
  readonly #client: WsapiClient;
  readonly #opts: ArrayApiOptions;
  /** The shared task list: when it was asked for, and when it was last known current (its answer's time). */
  #tasks: { readonly at: number; readonly asked: number; readonly list: Promise<unknown[]> } | undefined;
  #writes = 0;

  constructor(client: WsapiClient, opts: ArrayApiOptions = {}) {
    this.#client = client;
    this.#opts = opts;
  }

  async volume(name: string, signal: Signal): Promise<Volume | undefined> {
    return this.#read({
      method: "GET",
      path: `volumes/${encodeURIComponent(name)}`,
      schema: volume,
      idempotent: true,
      signal,
    });
  }

  /** Every volume; `about` names one the caller cares about, which may not be skipped if malformed. */
  async volumes(signal: Signal, about?: string): Promise<Volume[]> {
    return this.#list("volumes", "volume", volume, signal, about);
  }

  async volumeSet(name: string, signal: Signal): Promise<VolumeSet | undefined> {
    return this.#read({
      method: "GET",
      path: `volumesets/${encodeURIComponent(name)}`,
      schema: volumeSet,
      idempotent: true,
      signal,
    });
  }

  async volumeSets(signal: Signal): Promise<VolumeSet[]> {
    return this.#list("volumesets", "volumeSet", volumeSet, signal, undefined);
  }

  /** POST /volumesets {name, setmembers}: 201, any body accepted. Never retried. */
  async createVolumeSet(name: string, members: readonly string[], signal: Signal): Promise<void> {
    await this.#write({
      method: "POST",
      path: "volumesets",
      body: { name, setmembers: members },
      idempotent: false,
      signal,
    });
  }

  async deleteVolumeSet(name: string, signal: Signal): Promise<void> {
    try {
      await this.#write({ method: "DELETE", path: `volumesets/${encodeURIComponent(name)}`, idempotent: true, signal });
    } catch (e: unknown) {
      if (!isEngineError(e, "NotFound")) throw e;
    }
  }

  /** A copy task by id; undefined when absent or when the task is not a copy task. */
  async task(id: string, signal: Signal): Promise<Task | undefined> {
    if (!/^[0-9]+$/.test(id)) return undefined;
    const t = await this.#read({ method: "GET", path: `tasks/${id}`, schema: task, idempotent: true, signal });
    return t !== undefined && copyTaskTypes.has(t.type) ? t : undefined;
  }

  /**
   * The copy tasks, from one shared GET /tasks; `about` names the volume whose tasks the caller needs. With
   * `askedSince`, only a list the array was asked for at or after that time (Date.now()) serves: a caller that
   * read a volume first and must not see tasks older than it.
   */
  async tasks(signal: Signal, about?: string, askedSince?: number): Promise<Task[]> {
    return this.#members(await this.#sharedTasks(signal, askedSince), "tasks", "task", task, about).filter((t) =>
      copyTaskTypes.has(t.type),
    );
  }

  #sharedTasks(signal: Signal, askedSince = -Infinity): Promise<unknown[]> {
    const now = Date.now();
    const held = this.#tasks;
    if (held !== undefined && now - held.at <= (this.#opts.tasksTtlMs ?? 250) && held.asked >= askedSince)
      return signal === undefined ? held.list : raceAbort(held.list, signal);
    // Not tied to one caller's signal: others share the answer. A failed read is not kept.
    const list = this.#read({
      method: "GET",
      path: "tasks",
      schema: memberList,
      idempotent: true,
      signal: undefined,
    }).then((l) => l?.members ?? []);
    const entry = { at: now, asked: now, list };
    this.#tasks = entry;
    list.then(
      () => {
        if (this.#tasks === entry) this.#tasks = { at: Date.now(), asked: now, list };
      },
      () => {
        if (this.#tasks === entry) this.#tasks = undefined;
      },
    );
    return signal === undefined ? list : raceAbort(list, signal);
  }

  /** Sends a write. Every write may change the tasks: the next read asks the array. */
  async #write<T>(call: Call<T>): Promise<T | undefined> {
    this.#tasks = undefined;
    this.#writes++;
    return (await this.#client.call(call)).data;
  }

  /** How many writes this API has sent: a cache of what the array shows is good only while it stays the same. */
  get writes(): number {
    return this.#writes;
  }

  /** POST createSnapshot: the documented answer is empty; any body is accepted. Never retried. */
  async createSnapshot(source: string, parameters: Record<string, unknown>, signal: Signal): Promise<void> {
    const body = { action: "createSnapshot", parameters };
    await this.#write({
      method: "POST",
      path: `volumes/${encodeURIComponent(source)}`,
      body,
      idempotent: false,
      signal,
    });
  }

  /**
   * POST createSnapshot on a volume set (DOMAIN.md §3.2): one snapshot per member, all at one point in time, named
   * by the pattern in parameters.name. 201 Created; any body is accepted. Never retried.
   */
  async createSetSnapshot(set: string, parameters: Record<string, unknown>, signal: Signal): Promise<void> {
    await this.#write({
      method: "POST",
      path: `volumesets/${encodeURIComponent(set)}`,
      body: { action: "createSnapshot", parameters },
      idempotent: false,
      signal,
    });
  }

  /** POST createPhysicalCopy: the task id it started, if the answer gave one. Never retried. */
  async createPhysicalCopy(
    source: string,
    parameters: Record<string, unknown>,
    signal: Signal,
  ): Promise<number | undefined> {
    const body = { action: "createPhysicalCopy", parameters };
    const answer = await this.#write({
      method: "POST",
      path: `volumes/${encodeURIComponent(source)}`,
      body,
      schema: taskStarted,
      idempotent: false,
      signal,
    });
    return answer?.taskid;
  }

  /** PUT a comment: idempotent, any answer accepted. */
  async setComment(name: string, comment: string, signal: Signal): Promise<void> {
    await this.#write({
      method: "PUT",
      path: `volumes/${encodeURIComponent(name)}`,
      body: { comment },
      idempotent: true,
      signal,
    });
  }

  /** PUT an action that starts a task (2 resync, 4 promote): its task id. Never retried. */
  async startTask(name: string, body: Record<string, unknown>, signal: Signal): Promise<number | undefined> {
    const answer = await this.#write({
      method: "PUT",
      path: `volumes/${encodeURIComponent(name)}`,
      body,
      schema: taskStarted,
      idempotent: false,
      signal,
    });
    return answer?.taskid;
  }

  /** PUT an action with no task (1 stop, 3 grow, 5 stop promote): any answer accepted. Never retried. */
  async act(name: string, body: Record<string, unknown>, signal: Signal): Promise<void> {
    await this.#write({
      method: "PUT",
      path: `volumes/${encodeURIComponent(name)}`,
      body,
      idempotent: false,
      signal,
    });
  }

  async createVolume(
    name: string,
    cpg: string,
    sizeMiB: number,
    snapCPG: string | undefined,
    signal: Signal,
  ): Promise<void> {
    const body = { name, cpg, sizeMiB, tpvv: true, ...(snapCPG === undefined ? {} : { snapCPG }) };
    await this.#write({ method: "POST", path: "volumes", body, idempotent: false, signal });
  }

  /**
   * DELETE /volumes/<name>; gone already is success. Callers check first that the volume is theirs to delete
   * (engine.ts): this call trusts its caller, and nothing else.
   */
  async deleteVolume(name: string, signal: Signal): Promise<void> {
    try {
      await this.#write({
        method: "DELETE",
        path: `volumes/${encodeURIComponent(name)}`,
        idempotent: true,
        signal,
      });
    } catch (e: unknown) {
      if (isEngineError(e, "NotFound")) return;
      throw e;
    }
  }

  async cancelTask(id: number, signal: Signal): Promise<void> {
    await this.#write({ method: "PUT", path: `tasks/${id}`, body: { action: 1 }, idempotent: true, signal });
  }

  async #list<T>(
    path: string,
    kind: RecordKind,
    schema: z.ZodType<T>,
    signal: Signal,
    about: string | undefined,
  ): Promise<T[]> {
    const raw =
      (await this.#read({ method: "GET", path, schema: memberList, idempotent: true, signal }))?.members ?? [];
    return this.#members(raw, path, kind, schema, about);
  }

  #members<T>(
    raw: readonly unknown[],
    path: string,
    kind: RecordKind,
    schema: z.ZodType<T>,
    about: string | undefined,
  ): T[] {
    const out: T[] = [];
    raw.forEach((member, i) => {
      const parsed = schema.safeParse(member);
      if (parsed.success) {
        out.push(parsed.data);
        return;
      }
      const name = nameOf(member);
      const issue = parsed.error.issues[0];
      const why = describeIssue(issue === undefined ? undefined : { ...issue, path: ["members", i, ...issue.path] });
      if (about !== undefined && name === about) {
        throw new EngineError(`unexpected answer to GET /${path}: the ${kind} ${about} is malformed: ${why}`, {
          code: "Internal",
          kind: "retryable",
        });
      }
      this.#opts.logger?.("warn", `Skipped a malformed ${kind} record from the array`, { name, field: why });
      this.#opts.onMalformed?.(kind);
    });
    return out;
  }

  async #read<T>(call: Call<T>): Promise<T | undefined> {
    try {
      return (await this.#client.call(call)).data;
    } catch (e: unknown) {
      if (isEngineError(e, "NotFound")) return undefined;
      throw e;
    }
  }
}

/** The shared read's answer for one caller, who may stop waiting for it without cancelling it for the others. */
function raceAbort<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  const aborted = (): EngineError => new EngineError("GET /tasks aborted", { code: "Aborted" });
  if (signal.aborted) return Promise.reject(aborted());
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      reject(aborted());
    };
    signal.addEventListener("abort", onAbort, { once: true });
    p.then(
      (v) => {
        signal.removeEventListener("abort", onAbort);
        resolve(v);
      },
      (e: unknown) => {
        signal.removeEventListener("abort", onAbort);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

function nameOf(member: unknown): string | undefined {
  if (typeof member !== "object" || member === null) return undefined;
  const name = (member as { name?: unknown }).name;
  return typeof name === "string" ? name : undefined;
}
