// The controllers unchanged on a cim CopyClass: the operator drives the CIM test array (CIM-XML over HTTPS with
// 3PAR's classes, backed by an embedded engine so data is real) with credentials from the class's Secret and the
// array's certificate verified through caBundle. Virtual copy, physical copy, resync (bytes verified), deletion.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { startCimTestArray, type CimTestArray } from "../cim-server/server.ts";
import { freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
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
  op = startOperator();
});

afterAll(async () => {
  await op.stop();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("a cim CopyClass", () => {
  it("is Ready with the array's capabilities", async () => {
    const obj = await condition("copyclass", cls, "Ready", "True", undefined);
    expect(conditionOf(obj, "Ready")?.message).toContain("cim engine ready");
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
    expect((await backing.readVolume("cim-dst", 0, size)).equals(second)).toBe(true);

    const snapName = String(snap.status?.arrayName);
    await kubectlAsyncOk(["delete", "virtualcopy", "cim-snap", "-n", ns, "--timeout=60s"]);
    expect(await backing.observeCopy(snapName)).toBeUndefined();
    await kubectlAsyncOk(["delete", "physicalcopy", "cim-copy", "-n", ns, "--timeout=60s"]);
    expect((await backing.observeCopy("cim-dst"))?.synchronization).toBeUndefined();
    expect(array.requests).toContain("ModifySynchronization");
    expect(array.deleted).toContain(snapName);
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
});
