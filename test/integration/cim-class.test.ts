// The controllers unchanged on a cim CopyClass: the operator drives the CIM test array (CIM-XML over HTTPS with
// 3PAR's classes, backed by an embedded engine so data is real) with credentials from the class's Secret and the
// array's certificate verified through caBundle. Virtual copy, physical copy, resync (bytes verified), deletion.
// Job indications: the operator's listener (self-signed certificate made at start) takes the test array's
// deliveries and the job poll is an hour, so the copy and the resync finish through indications (the controllers'
// own 10 s safety poll would also see them, later); deleting the class removes its subscriptions from the array.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { IndicationListener } from "../../operator/src/engine/cim/listener.ts";
import { selfSignedCert } from "../../operator/src/kube/self-signed.ts";
import { keyText } from "../../operator/src/engine/cim/model.ts";
import { classes } from "../../operator/src/engine/cim/names.ts";
import { startCimTestArray, type CimTestArray } from "../cim-server/server.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  readSecret,
  startOperator,
  waitForCondition,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `cim-${Math.random().toString(36).slice(2, 7)}`;
const size = 4 << 20;
const api = "arraycopy.io/v1alpha1";
let ns: string;
let backing: EmbeddedEngine;
let array: CimTestArray;
let op: RunningOperator;
let listener: IndicationListener;
const ours = (className: string, of = cls) =>
  array.subscriptions.list(className).filter((i) => keyText(i.name, "Name")?.startsWith(`arraycopy:${of}:`));

interface Obj {
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}
const condition = (
  kind: string,
  name: string,
  type: string,
  status: "True" | "False" = "True",
  namespace: string | undefined = ns,
) => waitForCondition<Obj>(kind, namespace, name, type, { status });

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("cim");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "cim-array-")) });
  array = await startCimTestArray({ engine: backing });
  for (const v of ["cim-src", "cim-dst"]) await backing.createVolume(v, size);
  applyYaml(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "array-creds", namespace: ns },
      stringData: { username: array.user, password: array.password },
    },
    {
      apiVersion: api,
      kind: "CopyClass",
      metadata: { name: cls },
      spec: {
        driver: "cim",
        cim: {
          endpoint: array.url,
          credentialsSecretRef: { name: "array-creds", namespace: ns },
          caBundle: array.ca,
        },
      },
    },
  );
  listener = await IndicationListener.start({ port: 0, host: "127.0.0.1", ...selfSignedCert(["127.0.0.1"]) });
  const registry = new EngineRegistry({
    dataDir: mkdtempSync(join(tmpdir(), "cim-registry-")),
    readSecret: (namespace, name) => Promise.resolve(readSecret(namespace, name)),
    cimIndications: { listener, listenerUrl: `https://127.0.0.1:${listener.port}`, slowPollMs: 3_600_000 },
  });
  op = startOperator([], { registry, closeDeletedClasses: true });
});

afterAll(async () => {
  await op.stop();
  await listener.close();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("a cim CopyClass", () => {
  it("is Ready with the array's capabilities", async () => {
    const obj = await condition("copyclass", cls, "Ready", "True", undefined);
    expect(conditionOf(obj, "Ready")?.message).toContain("cim engine ready");
    const ind = await condition("copyclass", cls, "Indications", "True", undefined);
    expect(conditionOf(ind, "Indications")).toMatchObject({ reason: "Arriving" });
    expect(array.subscriptions.list(classes.subscription)).toHaveLength(1);
    expect(ours(classes.filter)).toHaveLength(1);
    expect(ours(classes.destination)).toHaveLength(1);
  });

  it("runs virtual and physical copies, a resync verified byte for byte, and deletion", async () => {
    const first = randomBytes(size);
    await backing.writeVolume("cim-src", 0, first);
    applyYaml(
      {
        apiVersion: api,
        kind: "VirtualCopy",
        metadata: { name: "cim-snap", namespace: ns },
        spec: { copyClassName: cls, source: { volumeName: "cim-src" }, expirationHours: 24 },
      },
      {
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: { name: "cim-copy", namespace: ns },
        spec: {
          copyClassName: cls,
          source: { volumeName: "cim-src" },
          target: { volumeName: "cim-dst" },
          saveSnapshot: true,
        },
      },
    );
    const snap = await condition("virtualcopy", "cim-snap", "Ready");
    expect(snap.status).toMatchObject({ syncState: "Idle", copyType: "UnSyncAssoc", replicaType: "AfterDelta" });
    const copy = await condition("physicalcopy", "cim-copy", "Ready");
    expect(copy.status).toMatchObject({ syncState: "Frozen", copyType: "UnSyncAssoc", replicaType: "FullCopy" });
    expect((await backing.readVolume("cim-dst", 0, size)).equals(first)).toBe(true);

    const second = randomBytes(size);
    await backing.writeVolume("cim-src", 0, second);
    applyYaml({
      apiVersion: api,
      kind: "CopyJob",
      metadata: { name: "cim-resync", namespace: ns },
      spec: { copyRef: { kind: "PhysicalCopy", name: "cim-copy" }, operation: "Resync" },
    });
    const job = await condition("copyjob", "cim-resync", "Succeeded");
    expect(job.status).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    // The array told our listener of the resync's start and end, and the listener took both.
    const delivered = array.subscriptions.deliveries.filter((d) => d.job === String(job.status?.arrayJobId));
    expect(delivered.map((d) => d.outcome)).toEqual([200, 200]);
    expect((await backing.readVolume("cim-dst", 0, size)).equals(second)).toBe(true);

    const snapName = String(snap.status?.arrayName);
    await kubectlAsyncOk(["delete", "virtualcopy", "cim-snap", "-n", ns, "--timeout=60s"]);
    expect(await backing.observeCopy(snapName)).toBeUndefined();
    await kubectlAsyncOk(["delete", "physicalcopy", "cim-copy", "-n", ns, "--timeout=60s"]);
    expect((await backing.observeCopy("cim-dst"))?.synchronization).toBeUndefined();
    expect(array.requests).toContain("ModifySynchronization");
    expect(array.deleted).toContain(snapName);
  });

  it("deleting the class removes its subscriptions from the array, and only its own", async () => {
    expect(array.subscriptions.list(classes.subscription).length).toBeGreaterThanOrEqual(1);
    await kubectlAsyncOk(["delete", "copyclass", cls, "--timeout=60s"]);
    await eventually(() => {
      expect(ours(classes.filter)).toHaveLength(0);
      expect(ours(classes.destination)).toHaveLength(0);
    });
  });
});

describe("a cim CopyClass the operator cannot use is not Ready and says why", () => {
  const bad = (name: string, cim: Record<string, unknown>) => ({
    apiVersion: api,
    kind: "CopyClass",
    metadata: { name },
    spec: { driver: "cim", cim: { endpoint: array.url, caBundle: array.ca, ...cim } },
  });
  const names = { creds: `${cls}-creds`, ns: `${cls}-ns` };
  afterAll(() => {
    kubectl(["delete", "copyclass", names.creds, names.ns, "--wait=false"]);
  });

  it("wrong credentials and a missing namespace are named on the class", async () => {
    applyYaml(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name: "wrong-creds", namespace: ns },
        stringData: { username: array.user, password: "wrong" },
      },
      bad(names.creds, { credentialsSecretRef: { name: "wrong-creds", namespace: ns } }),
      bad(names.ns, { credentialsSecretRef: { name: "array-creds", namespace: ns }, namespace: "root/nowhere" }),
    );
    const creds = await condition("copyclass", names.creds, "Ready", "False", undefined);
    expect(conditionOf(creds, "Ready")).toMatchObject({ reason: "EngineUnusable" });
    expect(conditionOf(creds, "Ready")?.message).toMatch(/wrong user name or password \(HTTP 401\)/);
    const missing = await condition("copyclass", names.ns, "Ready", "False", undefined);
    expect(conditionOf(missing, "Ready")?.message).toMatch(/the CIM namespace root\/nowhere does not exist/);
  });

  it("a provider's profiles are named on the class: no Copy Services, or no Replication Services", async () => {
    const providers = await Promise.all(
      [
        ["Array", "Block Services"],
        ["Copy Services", "Array"],
      ].map(async (profiles) => {
        const engine = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "cim-profiles-")) });
        return { engine, array: await startCimTestArray({ engine, profiles }) };
      }),
    );
    const [none, legacy] = providers;
    if (none === undefined || legacy === undefined) throw new Error("no providers");
    const onArray = (name: string, a: CimTestArray) => ({
      apiVersion: api,
      kind: "CopyClass",
      metadata: { name },
      spec: {
        driver: "cim",
        cim: { endpoint: a.url, caBundle: a.ca, credentialsSecretRef: { name: "array-creds", namespace: ns } },
      },
    });
    try {
      applyYaml(onArray(`${cls}-nocopy`, none.array), onArray(`${cls}-legacy`, legacy.array));
      const unusable = await condition("copyclass", `${cls}-nocopy`, "Ready", "False", undefined);
      expect(conditionOf(unusable, "Ready")).toMatchObject({ reason: "EngineUnusable" });
      expect(conditionOf(unusable, "Ready")?.message).toMatch(
        /does not register the Copy Services profile \(it registers Array, Block Services\)/,
      );
      // Copy Services without Replication Services: usable, but it claims no online copies.
      const ready = await condition("copyclass", `${cls}-legacy`, "Ready", "True", undefined);
      expect(conditionOf(ready, "Ready")?.message).toMatch(/cim engine ready: virtual copies, physical copies, resync/);
      expect(conditionOf(ready, "Ready")?.message).not.toContain("online copies");
    } finally {
      kubectl(["delete", "copyclass", `${cls}-nocopy`, `${cls}-legacy`, "--wait=true"]);
      for (const p of providers) {
        await p.array.close();
        await p.engine.close();
      }
    }
  });
});
