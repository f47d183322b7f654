// A WSAPI test array on 127.0.0.1 over HTTPS — TEST ONLY, never shipped: it implements the documented behaviour
// of the endpoints the wsapi driver uses (sessions, volumes, snapshots, physical copies, tasks with progress and
// queueing, error codes) on top of an embedded engine, so copies move real bytes. Tests reach the data through
// `engine` directly (WSAPI has no data path) — that direct access is test-only too.
// Fault hooks, for tests of the client: `faults.delayMs` delays every answer; `faults.unavailable` answers the
// next N requests 503 without applying them; `faults.dropAfterApply` applies the next N mutating requests and
// then drops the connection without an answer; `expireSessions()` forgets every session key (the array's
// INV_SESS_KEY 403 follows). Quirks (state.ts) make it behave as other servers do: bodies on empty answers,
// string task ids, ignored queries, the array's own tasks in the task list, a malformed record in each list.
// `deleted` lists every volume it deleted, so a test can prove nothing else went.
import { randomUUID } from "node:crypto";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import type { Clock } from "../../operator/src/engine/port.ts";
import { servingCert } from "./cert.ts";
import { toWsapi } from "./errors.ts";
import * as h from "./handlers.ts";
import { ArrayState, noQuirks, type Quirks } from "./state.ts";

export interface Faults {
  delayMs: number;
  unavailable: number;
  dropAfterApply: number;
}

export interface TestArray {
  /** Base URL, https://127.0.0.1:<port>/api/v1. */
  readonly url: string;
  /** PEM of the self-signed certificate, for the driver's caBundle. */
  readonly ca: string;
  readonly user: string;
  readonly password: string;
  readonly engine: EmbeddedEngine;
  readonly faults: Faults;
  /** Requests seen, by "METHOD /path" (for tests of the client's behaviour). */
  readonly requests: string[];
  /** Every session key the array issued (a test proves none leaks into what the operator wrote). */
  readonly issuedKeys: readonly string[];
  /** Switch quirks on and off at any time. */
  readonly quirks: Quirks;
  /** Every volume the array deleted, in order. */
  readonly deleted: readonly string[];
  expireSessions(): void;
  close(): Promise<void>;
}

export interface TestArrayOptions {
  readonly engine: EmbeddedEngine;
  readonly clock?: Clock;
  readonly user?: string;
  readonly password?: string;
  readonly quirks?: Partial<Quirks>;
}

export async function startTestArray(options: TestArrayOptions): Promise<TestArray> {
  const user = options.user ?? "3paradm";
  const password = options.password ?? "3pardata";
  const state = new ArrayState(options.engine, options.clock ?? { now: () => Date.now() }, {
    ...noQuirks(),
    ...options.quirks,
  });
  const sessions = new Set<string>();
  const issuedKeys: string[] = [];
  const faults: Faults = { delayMs: 0, unavailable: 0, dropAfterApply: 0 };
  const requests: string[] = [];
  const { cert, key } = servingCert();

  const server: Server = createServer({ cert, key }, (req, res) => {
    handle(req, res).catch((e: unknown) => {
      send(res, 500, { code: 1, desc: e instanceof Error ? e.message : String(e) });
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "https://127.0.0.1");
    const method = req.method ?? "GET";
    requests.push(`${method} ${url.pathname}`);
    const body = await readBody(req);
    if (faults.delayMs > 0) await new Promise((r) => setTimeout(r, faults.delayMs));
    if (faults.unavailable > 0) {
      faults.unavailable--;
      send(res, 503, { code: 1, desc: "the array is busy" });
      return;
    }
    await state.settle();
    const parts = url.pathname
      .replace(/^\/api\/v1\/?/, "")
      .split("/")
      .filter((p) => p.length > 0)
      .map(decodeURIComponent);
    let reply: h.Reply;
    try {
      reply = await route(method, parts, body, url, req);
    } catch (e: unknown) {
      const failure = e instanceof h.Refusal ? { status: e.status, code: e.code, desc: e.message } : toWsapi(e);
      reply = { status: failure.status, body: { code: failure.code, desc: failure.desc } };
    }
    if (method !== "GET" && faults.dropAfterApply > 0) {
      faults.dropAfterApply--;
      req.socket.destroy();
      return;
    }
    send(res, reply.status, reply.body);
  }

  async function route(
    method: string,
    parts: string[],
    body: Record<string, unknown>,
    url: URL,
    req: IncomingMessage,
  ): Promise<h.Reply> {
    const [resource, name] = parts;
    if (resource === "credentials") {
      if (method === "POST") {
        if (body.user !== user || body.password !== password)
          throw new h.Refusal(403, 5, "invalid username or password");
        const k = randomUUID();
        sessions.add(k);
        issuedKeys.push(k);
        return { status: 201, body: { key: k } };
      }
      if (method === "DELETE" && name !== undefined) {
        sessions.delete(name);
        return { status: 200 };
      }
    }
    const k = req.headers["x-hp3par-wsapi-sessionkey"];
    if (typeof k !== "string" || !sessions.has(k)) throw new h.Refusal(403, 6, "invalid session key");
    if (resource === "volumes") {
      if (name === undefined && method === "GET") return h.listVolumes(state, url.searchParams.get("query"));
      if (name === undefined && method === "POST") return h.createVolume(state, body);
      if (name !== undefined && method === "GET") return { status: 200, body: await h.getVolume(state, name) };
      if (name !== undefined && method === "POST") return h.volumeAction(state, name, body);
      if (name !== undefined && method === "PUT") return h.modifyVolume(state, name, body);
      if (name !== undefined && method === "DELETE") return h.deleteVolume(state, name);
    }
    if (resource === "volumesets") {
      if (name === undefined && method === "GET") return h.listVolumeSets(state);
      if (name === undefined && method === "POST") return h.createVolumeSet(state, body);
      if (name !== undefined && method === "GET") return { status: 200, body: await h.getVolumeSet(state, name) };
      if (name !== undefined && method === "POST") return h.volumeSetAction(state, name, body);
      if (name !== undefined && method === "DELETE") return h.deleteVolumeSet(state, name);
    }
    if (resource === "tasks") {
      if (name === undefined && method === "GET") return h.listTasks(state);
      const id = Number(name);
      if (!Number.isInteger(id) || id <= 0) throw new h.Refusal(400, 115, `task id ${String(name)} is below range`);
      if (method === "GET") return { status: 200, body: await h.getTask(state, id) };
      if (method === "PUT") return h.cancelTask(state, id, body);
    }
    throw new h.Refusal(404, 11, `${method} /${parts.join("/")} not found`);
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `https://127.0.0.1:${port}/api/v1`,
    ca: cert,
    user,
    password,
    engine: options.engine,
    faults,
    requests,
    issuedKeys,
    quirks: state.quirks,
    deleted: state.deleted,
    expireSessions: () => {
      sessions.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => {
          resolve();
        });
      }),
  };
}

async function readBody(req: IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  if (chunks.length === 0) return {};
  try {
    const parsed: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    return typeof parsed === "object" && parsed !== null ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = body === undefined ? "" : JSON.stringify(body);
  res.writeHead(status, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(text) });
  res.end(text);
}
