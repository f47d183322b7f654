// Typed reads and writes of the WSAPI resources the engine uses (DOMAIN.md §3.2–3.4), over WsapiClient. Reads
// are idempotent and retried; a 404 on a read means "not there" and is undefined, not an error.
import { isEngineError } from "../errors.ts";
import type { Call, WsapiClient } from "./client.ts";
import { task, taskList, taskStarted, volume, volumeList, type Task, type Volume } from "./schemas.ts";

type Signal = AbortSignal | undefined;

export class ArrayApi {
  readonly #client: WsapiClient;

  constructor(client: WsapiClient) {
    this.#client = client;
  }

  async volume(name: string, signal: Signal): Promise<Volume | undefined> {
    return this.#read({ method: "GET", path: `volumes/${encodeURIComponent(name)}`, schema: volume, idempotent: true, signal });
  }

  async volumes(signal: Signal, query?: string): Promise<Volume[]> {
    const path = query === undefined ? "volumes" : `volumes?query=${encodeURIComponent(query)}`;
    return (await this.#read({ method: "GET", path, schema: volumeList, idempotent: true, signal }))?.members ?? [];
  }

  async task(id: string, signal: Signal): Promise<Task | undefined> {
    if (!/^[0-9]+$/.test(id)) return undefined;
    return this.#read({ method: "GET", path: `tasks/${id}`, schema: task, idempotent: true, signal });
  }

  async tasks(signal: Signal): Promise<Task[]> {
    return (await this.#read({ method: "GET", path: "tasks", schema: taskList, idempotent: true, signal }))?.members ?? [];
  }

  /** POST /volumes/<source> {action, parameters}: never retried. */
  async volumeAction(source: string, action: string, parameters: Record<string, unknown>, signal: Signal): Promise<number | undefined> {
    const answer = await this.#client.call({ method: "POST", path: `volumes/${encodeURIComponent(source)}`, body: { action, parameters }, schema: taskStarted, idempotent: false, signal });
    return answer.data?.taskid;
  }

  /** PUT /volumes/<name>: modify (comment) is idempotent; actions are not retried. */
  async modifyVolume(name: string, body: Record<string, unknown>, idempotent: boolean, signal: Signal): Promise<number | undefined> {
    const answer = await this.#client.call({ method: "PUT", path: `volumes/${encodeURIComponent(name)}`, body, schema: taskStarted, idempotent, signal });
    return answer.data?.taskid;
  }

  async createVolume(name: string, cpg: string, sizeMiB: number, snapCPG: string | undefined, signal: Signal): Promise<void> {
    const body = { name, cpg, sizeMiB, tpvv: true, ...(snapCPG === undefined ? {} : { snapCPG }) };
    await this.#client.call({ method: "POST", path: "volumes", body, idempotent: false, signal });
  }

  /** DELETE /volumes/<name>; gone already is success. */
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

  async #read<T>(call: Call<T>): Promise<T | undefined> {
    try {
      return (await this.#client.call(call)).data;
    } catch (e: unknown) {
      if (isEngineError(e, "NotFound")) return undefined;
      throw e;
    }
  }
}
