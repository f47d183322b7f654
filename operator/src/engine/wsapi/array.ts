// Typed reads and writes of the WSAPI resources the engine uses (DOMAIN.md §3.2–3.4), over WsapiClient. Reads
// are idempotent and retried; a 404 on a read means "not there" and is undefined, not an error.
// What each call parses is only what it needs:
// - writes whose documented answer is empty (createSnapshot, a comment, stop, grow, delete, cancel) accept any
//   body, since servers differ in what they add;
// - writes that start a task read `taskid` only, as an integer or a numeric string;
// - lists are read member by member: a malformed member is skipped with a warning and counted (onMalformed),
//   unless it is the very object the caller asked about (then the read fails, naming the field);
// - only copy tasks (copyTaskTypes) exist for the driver: the array's other tasks are never followed.
import type { z } from "zod";
import { EngineError, isEngineError } from "../errors.ts";
import { describeIssue, type Call, type WsapiClient, type WsapiLogger } from "./client.ts";
import { copyTaskTypes, memberList, task, taskStarted, volume, type Task, type Volume } from "./schemas.ts";

type Signal = AbortSignal | undefined;

export type RecordKind = "volume" | "task";

export interface ArrayApiOptions {
  readonly logger?: WsapiLogger | undefined;
  /** Called once per malformed list member skipped (for a metric). */
  readonly onMalformed?: ((kind: RecordKind) => void) | undefined;
}

export class ArrayApi {
  readonly #client: WsapiClient;
  readonly #opts: ArrayApiOptions;

  constructor(client: WsapiClient, opts: ArrayApiOptions = {}) {
    this.#client = client;
    this.#opts = opts;
  }

  async volume(name: string, signal: Signal): Promise<Volume | undefined> {
    return this.#read({ method: "GET", path: `volumes/${encodeURIComponent(name)}`, schema: volume, idempotent: true, signal });
  }

  /** Every volume; `about` names one the caller cares about, which may not be skipped if malformed. */
  async volumes(signal: Signal, about?: string): Promise<Volume[]> {
    return this.#list("volumes", "volume", volume, signal, about);
  }

  /** A copy task by id; undefined when absent or when the task is not a copy task. */
  async task(id: string, signal: Signal): Promise<Task | undefined> {
    if (!/^[0-9]+$/.test(id)) return undefined;
    const t = await this.#read({ method: "GET", path: `tasks/${id}`, schema: task, idempotent: true, signal });
    return t !== undefined && copyTaskTypes.has(t.type) ? t : undefined;
  }

  /** The copy tasks, in one GET /tasks; `about` names the volume whose tasks the caller needs. */
  async tasks(signal: Signal, about?: string): Promise<Task[]> {
    return (await this.#list("tasks", "task", task, signal, about)).filter((t) => copyTaskTypes.has(t.type));
  }

  /** POST createSnapshot: the documented answer is empty; any body is accepted. Never retried. */
  async createSnapshot(source: string, parameters: Record<string, unknown>, signal: Signal): Promise<void> {
    const body = { action: "createSnapshot", parameters };
    await this.#client.call({ method: "POST", path: `volumes/${encodeURIComponent(source)}`, body, idempotent: false, signal });
  }

  /** POST createPhysicalCopy: the task id it started, if the answer gave one. Never retried. */
  async createPhysicalCopy(source: string, parameters: Record<string, unknown>, signal: Signal): Promise<number | undefined> {
    const body = { action: "createPhysicalCopy", parameters };
    const answer = await this.#client.call({ method: "POST", path: `volumes/${encodeURIComponent(source)}`, body, schema: taskStarted, idempotent: false, signal });
    return answer.data?.taskid;
  }

  /** PUT a comment: idempotent, any answer accepted. */
  async setComment(name: string, comment: string, signal: Signal): Promise<void> {
    await this.#client.call({ method: "PUT", path: `volumes/${encodeURIComponent(name)}`, body: { comment }, idempotent: true, signal });
  }

  /** PUT an action that starts a task (2 resync, 4 promote): its task id. Never retried. */
  async startTask(name: string, body: Record<string, unknown>, signal: Signal): Promise<number | undefined> {
    const answer = await this.#client.call({ method: "PUT", path: `volumes/${encodeURIComponent(name)}`, body, schema: taskStarted, idempotent: false, signal });
    return answer.data?.taskid;
  }

  /** PUT an action with no task (1 stop, 3 grow, 5 stop promote): any answer accepted. Never retried. */
  async act(name: string, body: Record<string, unknown>, signal: Signal): Promise<void> {
    await this.#client.call({ method: "PUT", path: `volumes/${encodeURIComponent(name)}`, body, idempotent: false, signal });
  }

  async createVolume(name: string, cpg: string, sizeMiB: number, snapCPG: string | undefined, signal: Signal): Promise<void> {
    const body = { name, cpg, sizeMiB, tpvv: true, ...(snapCPG === undefined ? {} : { snapCPG }) };
    await this.#client.call({ method: "POST", path: "volumes", body, idempotent: false, signal });
  }

  /**
   * DELETE /volumes/<name>; gone already is success. Callers check first that the volume is theirs to delete
   * (engine.ts): this call trusts its caller, and nothing else.
   */
  async deleteVolume(name: string, signal: Signal): Promise<void> {
    try {
      await this.#client.call({ method: "DELETE", path: `volumes/${encodeURIComponent(name)}`, idempotent: true, signal });
    } catch (e: unknown) {
      if (isEngineError(e, "NotFound")) return;
      throw e;
    }
  }

  async cancelTask(id: number, signal: Signal): Promise<void> {
    await this.#client.call({ method: "PUT", path: `tasks/${id}`, body: { action: 1 }, idempotent: true, signal });
  }

  async #list<T>(path: string, kind: RecordKind, schema: z.ZodType<T>, signal: Signal, about: string | undefined): Promise<T[]> {
    const raw = (await this.#read({ method: "GET", path, schema: memberList, idempotent: true, signal }))?.members ?? [];
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
        throw new EngineError(`unexpected answer to GET /${path}: the ${kind} ${about} is malformed: ${why}`, { code: "Internal", kind: "retryable" });
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

function nameOf(member: unknown): string | undefined {
  if (typeof member !== "object" || member === null) return undefined;
  const name = (member as { name?: unknown }).name;
  return typeof name === "string" ? name : undefined;
}
