// The client against the test array over real HTTPS: TLS verified through the CA bundle, one session reused and
// renewed once when the array drops it, logout on close, reads retried after 503, a write never repeated and
// reported uncertain when its answer is lost after the array applied it.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../embedded/engine.ts";
import { EngineError } from "../errors.ts";
import { startTestArray, type TestArray } from "../../../../test/wsapi-server/server.ts";
import { ArrayApi } from "./array.ts";
import { WsapiClient, type WsapiClientOptions } from "./client.ts";
import { memberList } from "./schemas.ts";

let dir: string;
let backing: EmbeddedEngine;
let array: TestArray;
const clients: WsapiClient[] = [];
const client = (extra: Partial<WsapiClientOptions> = {}): WsapiClient => {
  const c = new WsapiClient({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    caBundle: array.ca,
    retryBaseMs: 1,
    ...extra,
  });
  clients.push(c);
  return c;
};
const list = { method: "GET", path: "volumes", schema: memberList, idempotent: true } as const;
const count = (what: string): number => array.requests.filter((r) => r === what).length;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "wsapi-client-"));
  backing = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
  array = await startTestArray({ engine: backing });
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await array.close();
  await backing.close();
  await rm(dir, { recursive: true, force: true });
});

describe("WsapiClient", () => {
  it("logs in once, reuses the key, and logs out on close", async () => {
    const c = client();
    await c.call(list);
    await c.call(list);
    expect(count("POST /api/v1/credentials")).toBe(1);
    await c.close();
    expect(array.requests.some((r) => r.startsWith("DELETE /api/v1/credentials/"))).toBe(true);
  });
  it("renews a session the array dropped (403, code 6) once and repeats the request", async () => {
    const c = client();
    await c.call(list);
    array.expireSessions();
    expect((await c.call(list)).status).toBe(200);
    expect(count("POST /api/v1/credentials")).toBe(2);
  });
  it("refuses an unverified certificate unless told to skip, and warns when skipping", async () => {
    const strict = new WsapiClient({ endpoint: array.url, user: array.user, password: array.password, retries: 0 });
    clients.push(strict);
    await expect(strict.call(list)).rejects.toMatchObject({ code: "AccessDenied", kind: "final" });
    const warnings: string[] = [];
    const lax = client({
      caBundle: undefined as unknown as string,
      insecureSkipTLSVerify: true,
      logger: (_l, m) => warnings.push(m),
    });
    expect((await lax.call(list)).status).toBe(200);
    expect(warnings).toEqual(["TLS verification of the array's certificate is off"]);
  });
  it("retries a read after 503 and gives a write's 503 back as retryable, unsent again", async () => {
    const c = client();
    array.faults.unavailable = 2;
    expect((await c.call(list)).status).toBe(200);
    array.faults.unavailable = 1;
    const e = await c
      .call({ method: "POST", path: "volumes", body: { name: "v", cpg: "c", sizeMiB: 1 }, idempotent: false })
      .catch((x: unknown) => x);
    expect(e).toBeInstanceOf(EngineError);
    expect(e).toMatchObject({ code: "Busy", kind: "retryable" });
    expect(count("POST /api/v1/volumes")).toBe(1);
  });
  it("a create whose answer is lost after it was applied is uncertain, and the volume exists", async () => {
    const c = client();
    await c.call(list);
    array.faults.dropAfterApply = 1;
    const e = await c
      .call({ method: "POST", path: "volumes", body: { name: "v", cpg: "c", sizeMiB: 1 }, idempotent: false })
      .catch((x: unknown) => x);
    expect(e).toMatchObject({ kind: "uncertain" });
    expect((await backing.listVolumes()).map((v) => v.name)).toEqual(["v"]);
  });
  it("a wrong password is AccessDenied, final, with the array's code 5, and is not sent again", async () => {
    const c = client({ password: "wrong" });
    await expect(c.call(list)).rejects.toMatchObject({ code: "AccessDenied", kind: "final", arrayCode: 5 });
    await expect(c.call(list)).rejects.toMatchObject({
      code: "AccessDenied",
      message: expect.stringMatching(
        /invalid username or password \(5\); fix the username and password in the CopyClass's Secret$/,
      ) as unknown,
    });
    expect(count("POST /api/v1/credentials")).toBe(1);
    expect(count("GET /api/v1/volumes")).toBe(0);
  });
  it("an untrusted certificate is AccessDenied, final, naming caBundle", async () => {
    const warnings: string[] = [];
    const c = new WsapiClient({
      endpoint: array.url,
      user: array.user,
      password: array.password,
      retryBaseMs: 1,
      logger: (level, message) => warnings.push(`${level} ${message}`),
    });
    clients.push(c);
    const e = await c.call(list).catch((x: unknown) => x);
    expect(e).toMatchObject({ code: "AccessDenied", kind: "final" });
    expect((e as Error).message).toMatch(/^the array's certificate is not trusted \(/);
    expect((e as Error).message).toMatch(
      /\((DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_VERIFY_LEAF_SIGNATURE):/,
    );
    expect((e as Error).message).toContain("wsapi.caBundle");
    expect(await c.call(list).catch((x: unknown) => x)).toBe(e);
    expect(array.requests).toEqual([]);
    expect(warnings).toEqual(["warn The array refused access; no more requests until the class or its Secret changes"]);
  });
});

describe("ArrayApi", () => {
  it("serves concurrent and recent task reads from one GET /tasks, and asks again after any write", async () => {
    const api = new ArrayApi(client(), { tasksTtlMs: 60_000 });
    await Promise.all(Array.from({ length: 20 }, () => api.tasks(undefined)));
    await api.tasks(undefined, "some-volume");
    expect(count("GET /api/v1/tasks")).toBe(1);
    await api.createVolume("v", "FC_r6", 1, undefined, undefined);
    await api.tasks(undefined);
    expect(count("GET /api/v1/tasks")).toBe(2);
  });

  it("serves a caller asking for tasks asked for since a time only from a list asked for since then", async () => {
    const api = new ArrayApi(client(), { tasksTtlMs: 60_000 });
    await api.tasks(undefined);
    const after = Date.now() + 1;
    await new Promise((r) => setTimeout(r, 5));
    await api.tasks(undefined, "v", after);
    expect(count("GET /api/v1/tasks")).toBe(2);
    // That newer list now serves both kinds of caller.
    await api.tasks(undefined, "v", after);
    await api.tasks(undefined);
    expect(count("GET /api/v1/tasks")).toBe(2);
  });
});
