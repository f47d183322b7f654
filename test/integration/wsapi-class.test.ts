// The controllers unchanged on a wsapi CopyClass: the operator drives the HTTPS test array (WSAPI semantics,
// backed by an embedded engine so data is real) with credentials from the class's Secret and the array's
// certificate verified through caBundle. Virtual copy, physical copy, resync (bytes verified) and deletion.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  startOperator,
  waitForCondition,
  wsapiClass,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `wsapi-${Math.random().toString(36).slice(2, 7)}`;
const size = 4 << 20;
const api = "arraycopy.io/v1alpha1";
let ns: string;
let backing: EmbeddedEngine;
let array: TestArray;
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
  ns = freshNamespace("ws");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "wsapi-array-")) });
  array = await startTestArray({ engine: backing });
  for (const v of ["ws-src", "ws-dst"]) await backing.createVolume(v, size);
  applyYaml(...wsapiClass(cls, array, ns));
  op = startOperator();
});

afterAll(async () => {
  await op.stop();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("a wsapi CopyClass", () => {
  it("is Ready with the array's capabilities", async () => {
    const obj = await condition("copyclass", cls, "Ready", "True", undefined);
    expect(conditionOf(obj, "Ready")?.message).toContain("wsapi engine ready");
  });

  it("runs virtual and physical copies, a resync verified byte for byte, and deletion", async () => {
    const first = randomBytes(size);
    await backing.writeVolume("ws-src", 0, first);
    applyYaml(
      {
        apiVersion: api,
        kind: "VirtualCopy",
        metadata: { name: "ws-snap", namespace: ns },
        spec: { copyClassName: cls, source: { volumeName: "ws-src" }, expirationHours: 24 },
      },
      {
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: { name: "ws-copy", namespace: ns },
        spec: {
          copyClassName: cls,
          source: { volumeName: "ws-src" },
          target: { volumeName: "ws-dst" },
          saveSnapshot: true,
        },
      },
    );
    const snap = await condition("virtualcopy", "ws-snap", "Ready");
    expect(snap.status).toMatchObject({ syncState: "Idle", copyType: "UnSyncAssoc", replicaType: "AfterDelta" });
    const copy = await condition("physicalcopy", "ws-copy", "Ready");
    expect(copy.status).toMatchObject({ syncState: "Frozen", copyType: "UnSyncAssoc", replicaType: "FullCopy" });
    expect((await backing.readVolume("ws-dst", 0, size)).equals(first)).toBe(true);

    const second = randomBytes(size);
    await backing.writeVolume("ws-src", 0, second);
    applyYaml({
      apiVersion: api,
      kind: "CopyJob",
      metadata: { name: "ws-resync", namespace: ns },
      spec: { copyRef: { kind: "PhysicalCopy", name: "ws-copy" }, operation: "Resync" },
    });
    const job = await condition("copyjob", "ws-resync", "Succeeded");
    expect(job.status).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
    expect((await backing.readVolume("ws-dst", 0, size)).equals(second)).toBe(true);

    const snapName = String(snap.status?.arrayName);
    await kubectlAsyncOk(["delete", "virtualcopy", "ws-snap", "-n", ns, "--timeout=60s"]);
    expect(await backing.observeCopy(snapName)).toBeUndefined();
    await kubectlAsyncOk(["delete", "physicalcopy", "ws-copy", "-n", ns, "--timeout=60s"]);
    expect((await backing.observeCopy("ws-dst"))?.synchronization).toBeUndefined();
    expect(array.requests.some((r) => r.startsWith("POST /api/v1/credentials"))).toBe(true);
  });
});
