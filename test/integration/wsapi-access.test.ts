// A wsapi CopyClass whose Secret holds a wrong password: every copy of it shows the final reason
// ArrayAccessDenied (Stalled, with a Warning event), the array sees one login attempt in all and nothing after it
// (no hot loop), and once the Secret is fixed and the class is touched, the same copies go Ready.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  eventsFor,
  getObject,
  readSecret,
  startOperator,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `denied-${Math.random().toString(36).slice(2, 7)}`;
const api = "arraycopy.io/v1alpha1";
const copies = ["a", "b", "c"];
let ns: string;
let backing: EmbeddedEngine;
let array: TestArray;
let op: RunningOperator;

interface Obj {
  status?: { conditions?: ConditionView[] };
}
const logins = (): number => array.requests.filter((r) => r === "POST /api/v1/credentials").length;

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("denied");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "denied-array-")) });
  array = await startTestArray({ engine: backing });
  await backing.createVolume("den-src", 1 << 20);
  applyYaml(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds", namespace: ns },
      stringData: { username: array.user, password: "not-the-password" },
    },
    {
      apiVersion: api,
      kind: "CopyClass",
      metadata: { name: cls },
      spec: {
        driver: "wsapi",
        wsapi: {
          endpoint: array.url,
          credentialsSecretRef: { name: "creds", namespace: ns },
          cpg: "FC_r6",
          caBundle: array.ca,
        },
      },
    },
  );
  const registry = new EngineRegistry({
    dataDir: mkdtempSync(join(tmpdir(), "denied-data-")),
    readSecret: (namespace, name) => Promise.resolve(readSecret(namespace, name)),
    credentialsRecheckMs: 500,
  });
  op = startOperator([], { registry });
  applyYaml(
    ...copies.map((name) => ({
      apiVersion: api,
      kind: "VirtualCopy",
      metadata: { name, namespace: ns },
      spec: { copyClassName: cls, source: { volumeName: "den-src" } },
    })),
  );
});

afterAll(async () => {
  await op.stop();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
});

describe("a wsapi class with bad credentials", () => {
  it("gives every copy the final reason ArrayAccessDenied and a Warning event, after one login attempt", async () => {
    for (const name of copies) {
      await eventually(
        () => {
          const obj = getObject<Obj>("virtualcopy", ns, name);
          expect(conditionOf(obj, "Ready")).toMatchObject({ status: "False", reason: "ArrayAccessDenied" });
          expect(conditionOf(obj, "Stalled")).toMatchObject({ status: "True", reason: "ArrayAccessDenied" });
          expect(conditionOf(obj, "Ready")?.message).toMatch(
            /cannot log in to the array as 3paradm: invalid username or password \(5\); fix the username and password/,
          );
        },
        60_000,
        200,
      );
      await eventually(
        () => {
          expect(
            eventsFor(ns, name).filter((e) => e.type === "Warning" && e.reason === "ArrayAccessDenied"),
          ).toHaveLength(1);
        },
        30_000,
        200,
      );
    }
    const seen = array.requests.length;
    await new Promise((r) => setTimeout(r, 3_000));
    expect(logins()).toBe(1);
    expect(array.requests.length).toBe(seen);
  });

  it("goes Ready once the Secret is fixed and the class changes", async () => {
    applyYaml({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "creds", namespace: ns },
      stringData: { username: array.user, password: array.password },
    });
    await new Promise((r) => setTimeout(r, 600));
    kubectlOk(["label", "copyclass", cls, "touched=yes", "--overwrite"]);
    for (const name of copies) {
      await eventually(
        () => {
          expect(conditionOf(getObject<Obj>("virtualcopy", ns, name), "Ready")).toMatchObject({
            status: "True",
            reason: "Idle",
          });
        },
        60_000,
        200,
      );
    }
    expect(logins()).toBe(2);
  });
});
