// The cim driver's pushed job indications against the CIM test array (test/cim-server): the operator's listener
// (a real HTTPS server with a self-signed certificate made at start), the subscription the driver makes in the
// interop namespace, deliveries of TPD_ConcreteJobInstModification on each job start and end, renewal, removal on
// close that leaves everyone else's subscriptions alone, an unreachable listener, and what the listener refuses.
// The slow poll is an hour here, so a job's end that reaches the subscriber came by indication.
import { request } from "node:https";
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it, vi } from "vitest";
import { openCimEngine } from "../../operator/src/engine/cim/engine.ts";
import type { CimIndicationOptions } from "../../operator/src/engine/cim/indications.ts";
import { IndicationListener } from "../../operator/src/engine/cim/listener.ts";
import { selfSignedCert } from "../../operator/src/kube/self-signed.ts";
import { cim, keyText } from "../../operator/src/engine/cim/model.ts";
import { classes } from "../../operator/src/engine/cim/names.ts";
import { jobQuery } from "../../operator/src/engine/cim/subscription.ts";
import { encodeRequest } from "../../operator/src/engine/cim/xml.ts";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import type { Engine, JobIndication } from "../../operator/src/engine/port.ts";
import { startCimTestArray, type CimTestArray } from "../cim-server/server.ts";
import { MiB, owner } from "./helpers.ts";

const tag = "arraycopy:indications-test";
/** vi.waitFor with room for a loaded machine (its default gives up after 1 s). */
const waitFor = (check: () => void) => vi.waitFor(check, { timeout: 20_000, interval: 20 });
const hour = 3_600_000;

interface Setup {
  readonly engine: Engine;
  readonly array: CimTestArray;
  readonly backing: EmbeddedEngine;
  readonly listener: IndicationListener;
  readonly listenerUrl: string;
  readonly cert: string;
  dispose(): Promise<void>;
}

let s: Setup | undefined;
afterEach(async () => {
  await s?.dispose();
  s = undefined;
});

async function closedPort(): Promise<number> {
  const srv = createServer();
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", r));
  const port = (srv.address() as { port: number }).port;
  await new Promise<void>((r) => {
    srv.close(() => {
      r();
    });
  });
  return port;
}

async function setUp(
  opts: Partial<CimIndicationOptions> = {},
  before?: (a: CimTestArray, url: string) => void,
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-cimind-"));
  const backing = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
  const array = await startCimTestArray({ engine: backing });
  const { cert, key } = selfSignedCert(["127.0.0.1"]);
  const listener = await IndicationListener.start({ port: 0, host: "127.0.0.1", cert, key, maxBodyBytes: 64 << 10 });
  const listenerUrl = `https://127.0.0.1:${listener.port}`;
  before?.(array, listenerUrl);
  const engine = openCimEngine({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    caBundle: array.ca,
    pollIntervalMs: 20,
    indications: { listener, listenerUrl, tag, slowPollMs: hour, ...opts },
  });
  await backing.volumes.createVolume("base", MiB);
  await backing.volumes.createVolume("dst", MiB);
  let closed = false;
  return {
    engine,
    array,
    backing,
    listener,
    listenerUrl,
    cert,
    dispose: async () => {
      if (!closed) await engine.close();
      closed = true;
      await listener.close();
      await array.close();
      await backing.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const names = (a: CimTestArray, cls: string) => a.subscriptions.list(cls).map((i) => keyText(i.name, "Name"));
const subscriptionPairs = (a: CimTestArray) =>
  a.subscriptions.list(classes.subscription).map((i) => {
    const f = i.name.keys.Filter;
    const h = i.name.keys.Handler;
    return [f?.kind === "ref" ? keyText(f.ref, "Name") : "", h?.kind === "ref" ? keyText(h.ref, "Name") : ""];
  });

/** Someone else's subscription (another tool, or another operator's listener) that must survive us. */
function foreign(a: CimTestArray, name: string, destination: string): void {
  const filter = a.subscriptions.create({
    className: classes.filter,
    properties: { Name: cim.str(name), Query: cim.str(jobQuery), QueryLanguage: cim.str("DMTF:CQL") },
  });
  const handler = a.subscriptions.create({
    className: classes.destination,
    properties: { Name: cim.str(name), Destination: cim.str(destination) },
  });
  a.subscriptions.create({
    className: classes.subscription,
    properties: { Filter: cim.ref(filter), Handler: cim.ref(handler) },
  });
}

async function physicalCopy(e: Engine): Promise<string> {
  const { job } = await e.createPhysicalCopy({
    name: "dst",
    source: "base",
    online: false,
    saveSnapshot: false,
    owner: owner(),
  });
  return job.id;
}

describe("cim: job indications pushed to the operator's listener", () => {
  it("subscribes on the first subscriber: a tagged filter, destination and subscription in interop", async () => {
    s = await setUp();
    const a = s.array;
    expect(s.engine.capabilities().indications).toBe(false);
    s.engine.subscribe(() => undefined);
    await waitFor(() => {
      expect(s?.engine.capabilities().indications).toBe(true);
    });
    const [filter] = a.subscriptions.list(classes.filter);
    expect(keyText(filter?.name ?? { className: "", keys: {} }, "Name")).toMatch(
      /^arraycopy:indications-test:[0-9a-f]+$/,
    );
    expect(filter?.instance.properties).toMatchObject({ Query: cim.str(jobQuery), QueryLanguage: cim.str("DMTF:CQL") });
    const [dest] = a.subscriptions.list(classes.destination);
    const url = dest?.instance.properties.Destination;
    expect(url?.kind === "scalar" ? url.text : "").toMatch(new RegExp(`^${s.listenerUrl}/cimlistener/[\\w-]{32}$`));
    const name = names(a, classes.filter)[0];
    expect(subscriptionPairs(a)).toEqual([[name, name]]);
    expect(s.engine.indicationStatus?.()).toMatchObject({ state: "Arriving" });
  });

  it("a job's start and end reach the subscriber by indication, with the slow poll an hour away", async () => {
    s = await setUp();
    const seen: JobIndication[] = [];
    s.engine.subscribe((i) => seen.push(i));
    await waitFor(() => {
      expect(s?.engine.capabilities().indications).toBe(true);
    });
    // The driver's job poll is the only EnumerateInstances of TPD_ConcreteJob; none runs while we wait.
    const polls = () => s?.array.enumerated.filter((c) => c === classes.job).length;
    const before = polls();
    const id = await physicalCopy(s.engine);
    await waitFor(() => {
      expect(seen.filter((i) => i.job.id === id).map((i) => i.kind)).toContain("Finished");
    });
    expect(polls()).toBe(before);
    const finished = seen.find((i) => i.job.id === id && i.kind === "Finished");
    expect(finished?.job).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    // The array delivered both changes to our listener, and the listener took them. The stand-in array records a
    // delivery once our listener's answer reaches it, which can be after the listener handed the indication on.
    const mine = () => s?.array.subscriptions.deliveries.filter((d) => d.job === id) ?? [];
    await waitFor(() => {
      expect(mine().length).toBeGreaterThanOrEqual(2);
    });
    expect(mine().every((d) => d.outcome === 200)).toBe(true);
    expect(s.listener.delivered).toBeGreaterThanOrEqual(2);
    expect(s.engine.indicationStatus?.()?.message).toMatch(/received/);
  });

  it("close removes our subscription; someone else's, and another listener's of the same tag, stay", async () => {
    s = await setUp({}, (a, url) => {
      foreign(a, "other-tool:1", "https://elsewhere.example:5999/listener");
      foreign(a, `${tag}:0ther`, "https://another-operator.example:30989/cimlistener/x");
      // An earlier engine of this class on this listener (a crash left it): ours, removed when we subscribe.
      foreign(a, `${tag}:dead`, `${url}/cimlistener/old-token`);
    });
    const a = s.array;
    s.engine.subscribe(() => undefined);
    await waitFor(() => {
      expect(s?.engine.capabilities().indications).toBe(true);
    });
    const ours = names(a, classes.filter).find((n) => n !== undefined && /:[0-9a-f]{12}$/.test(n));
    expect(names(a, classes.filter).sort()).toEqual([`${tag}:0ther`, ours, "other-tool:1"].sort());
    await s.engine.close();
    const left = ["other-tool:1", `${tag}:0ther`].sort();
    expect(names(a, classes.filter).sort()).toEqual(left);
    expect(names(a, classes.destination).sort()).toEqual(left);
    expect(
      subscriptionPairs(a)
        .map(([f]) => f)
        .sort(),
    ).toEqual(left);
    await s.dispose();
    s = undefined;
  });

  it("a subscription the provider lost is made again at the next check", async () => {
    s = await setUp({ renewMs: 100 });
    s.engine.subscribe(() => undefined);
    await waitFor(() => {
      expect(s?.array.subscriptions.list(classes.subscription)).toHaveLength(1);
    });
    s.array.subscriptions.drop();
    expect(s.array.subscriptions.list(classes.subscription)).toHaveLength(0);
    await waitFor(() => {
      expect(s?.array.subscriptions.list(classes.subscription)).toHaveLength(1);
      expect(s?.array.subscriptions.list(classes.destination)).toHaveLength(1);
    });
  });

  it("an unreachable listener: deliveries fail, the slow poll carries on, and the status says so", async () => {
    const port = await closedPort();
    s = await setUp({ listenerUrl: `https://127.0.0.1:${port}`, slowPollMs: 200, missedAfterMs: 300 });
    const seen: JobIndication[] = [];
    s.engine.subscribe((i) => seen.push(i));
    await waitFor(() => {
      expect(s?.engine.capabilities().indications).toBe(true);
    });
    const id = await physicalCopy(s.engine);
    await waitFor(() => {
      expect(seen.some((i) => i.job.id === id && i.kind === "Finished")).toBe(true);
    });
    await waitFor(() => {
      expect(s?.engine.indicationStatus?.()?.state).toBe("NotArriving");
    });
    expect(s.array.subscriptions.failures.map((f) => f.outcome)).toContain("ECONNREFUSED");
    expect(s.engine.indicationStatus?.()?.message).toMatch(
      new RegExp(`indications are not arriving: the array did not deliver the indication of job ${id}`),
    );
    expect(s.engine.capabilities().indications).toBe(false);
    expect(s.listener.delivered).toBe(0);
  });
});

describe("cim: the indication listener refuses what is not one of our subscriptions' deliveries", () => {
  function send(url: string, ca: string, opts: { method?: string; body?: string }): Promise<number> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: opts.method ?? "POST", ca }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on("error", (e: NodeJS.ErrnoException) => {
        // An oversized body may be cut off before the answer is read.
        if (e.code === "ECONNRESET" || e.code === "EPIPE") resolve(413);
        else reject(e);
      });
      req.end(opts.body);
    });
  }

  it("an unknown path, another method, a body over the limit and malformed XML; a delivery is taken", async () => {
    s = await setUp();
    const seen: JobIndication[] = [];
    s.engine.subscribe((i) => seen.push(i));
    await waitFor(() => {
      expect(s?.engine.capabilities().indications).toBe(true);
    });
    const [dest] = s.array.subscriptions.list(classes.destination);
    const url = dest?.instance.properties.Destination;
    const good = url?.kind === "scalar" && url.text !== null ? url.text : "";
    const indication = encodeRequest({
      kind: "export",
      id: "1",
      indication: {
        className: "TPD_ConcreteJobInstModification",
        properties: {
          SourceInstance: cim.embedded({
            className: classes.job,
            properties: {
              InstanceID: cim.str("forged-1"),
              Name: cim.str("Copy"),
              ElementName: cim.str("dst"),
              JobState: cim.u16(7),
              OperationalStatus: cim.u16s([17, 2]),
              PercentComplete: cim.u16(100),
            },
          }),
        },
      },
    });
    const ca = s.cert;
    expect(await send(`${s.listenerUrl}/cimlistener/not-a-token`, ca, { body: indication })).toBe(403);
    expect(await send(`${s.listenerUrl}/`, ca, { body: indication })).toBe(403);
    expect(await send(good, ca, { method: "GET" })).toBe(405);
    expect(await send(good, ca, { body: "x".repeat(128 << 10) })).toBe(413);
    expect(await send(good, ca, { body: "<CIM><nonsense/></CIM>" })).toBe(400);
    expect(s.listener.refused).toEqual({ method: 1, token: 2, size: 1, malformed: 1 });
    expect(s.listener.delivered).toBe(0);
    expect(seen).toHaveLength(0);
    // With the right path, an indication is taken; it only wakes (the controllers read the job from the array).
    expect(await send(good, ca, { body: indication })).toBe(200);
    expect(s.listener.delivered).toBe(1);
    await waitFor(() => {
      expect(seen.map((i) => [i.kind, i.job.id])).toEqual([
        ["Started", "forged-1"],
        ["Finished", "forged-1"],
      ]);
    });
  });
});
