// Credentials never leave the Secret: a wsapi CopyClass with a known password drives the HTTPS test array through
// lifecycles that succeed and fail (a wrong password, an expired session, refusals), and then everything the
// operator wrote — every log line it emitted (at trace level, captured from its pino destination), every Event in
// the namespace, the status of every one of our resources — is searched for the password, its base64, the wrong
// password and every WSAPI session key the array issued. None may appear.
// Also: TLS verification is on by default — a class without caBundle against the self-signed array is unusable,
// with a condition that names the certificate problem.
import { randomBytes } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  getObject,
  startOperator,
  waitForCondition,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const suffix = Math.random().toString(36).slice(2, 7);
const cls = `sec-${suffix}`;
const wrongCls = `sec-wrong-${suffix}`;
const noCaCls = `sec-noca-${suffix}`;
const size = 1 << 20;
const api = "arraycopy.io/v1alpha1";
// Long and random, so a hit can only be a leak, never a coincidence.
const password = `pw-${randomBytes(12).toString("hex")}`;
const wrongPassword = `wrong-${randomBytes(12).toString("hex")}`;
let ns: string;
let backing: EmbeddedEngine;
let array: TestArray;
let op: RunningOperator;
const logged: string[] = [];

interface Obj {
  metadata: { name: string };
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}
const condition = (
  kind: string,
  name: string,
  type: string,
  status: "True" | "False" = "True",
  namespace: string | undefined = ns,
) => waitForCondition<Obj>(kind, namespace, name, type, { status });

const wsapiClass = (name: string, secret: string, caBundle: string | undefined) => ({
  apiVersion: api,
  kind: "CopyClass",
  metadata: { name },
  spec: {
    driver: "wsapi",
    wsapi: {
      endpoint: array.url,
      credentialsSecretRef: { name: secret, namespace: ns },
      cpg: "FC_r6",
      ...(caBundle === undefined ? {} : { caBundle }),
    },
  },
});
const vc = (name: string, className: string, volume: string) => ({
  apiVersion: api,
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: className, source: { volumeName: volume } },
});

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("sec");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "secrets-array-")) });
  array = await startTestArray({ engine: backing, password });
  for (const v of ["sec-src", "sec-dst"]) await backing.createVolume(v, size);
  await backing.writeVolume("sec-src", 0, randomBytes(size));
  applyYaml(
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "good-creds", namespace: ns },
      stringData: { username: array.user, password },
    },
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "bad-creds", namespace: ns },
      stringData: { username: array.user, password: wrongPassword },
    },
    wsapiClass(cls, "good-creds", array.ca),
    wsapiClass(wrongCls, "bad-creds", array.ca),
    wsapiClass(noCaCls, "good-creds", undefined),
  );
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(chunk.toString("utf8"));
      done();
    },
  });
  op = startOperator([], { logDestination: sink, logLevel: "trace" });
});

afterAll(async () => {
  await op.stop();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, wrongCls, noCaCls, "--wait=false", "--ignore-not-found"]);
});

describe("credentials", () => {
  it("never appear in the operator's logs, Events or status, through successes and failures", async () => {
    // Successes: a virtual copy, a physical copy and its resync, deletions.
    applyYaml(vc("good-snap", cls, "sec-src"), {
      apiVersion: api,
      kind: "PhysicalCopy",
      metadata: { name: "good-copy", namespace: ns },
      spec: {
        copyClassName: cls,
        source: { volumeName: "sec-src" },
        target: { volumeName: "sec-dst" },
        saveSnapshot: true,
      },
    });
    await condition("virtualcopy", "good-snap", "Ready");
    await condition("physicalcopy", "good-copy", "Ready");
    // The array forgets every session: the driver logs in again, with the password, mid-lifecycle.
    array.expireSessions();
    applyYaml({
      apiVersion: api,
      kind: "CopyJob",
      metadata: { name: "good-resync", namespace: ns },
      spec: { copyRef: { kind: "PhysicalCopy", name: "good-copy" }, operation: "Resync" },
    });
    await condition("copyjob", "good-resync", "Succeeded");
    // Failures: a source the array does not have, and a class whose Secret holds the wrong password.
    applyYaml(vc("no-source", cls, "no-such-volume"), vc("wrong-password", wrongCls, "sec-src"));
    await condition("virtualcopy", "no-source", "Ready", "False");
    const refused = await condition("virtualcopy", "wrong-password", "Ready", "False");
    console.log(
      `[secrets] wrong password: ${String(conditionOf(refused, "Ready")?.reason)}: ` +
        String(conditionOf(refused, "Ready")?.message),
    );
    expect(conditionOf(refused, "Ready")?.message).toMatch(/invalid username or password/);
    await kubectlAsyncOk(["delete", "virtualcopy", "good-snap", "-n", ns, "--timeout=60s"]);
    await kubectlAsyncOk(["delete", "physicalcopy", "good-copy", "-n", ns, "--timeout=60s"]);
    expect(array.issuedKeys.length, "sessions were opened (and one renewed)").toBeGreaterThanOrEqual(2);

    const events = await kubectlAsyncOk(["get", "events.events.k8s.io,events", "-n", ns, "-o", "json"]);
    const statuses = await kubectlAsyncOk(["get", "virtualcopies,physicalcopies,copyjobs", "-n", ns, "-o", "json"]);
    const classes = await kubectlAsyncOk(["get", "copyclasses", cls, wrongCls, noCaCls, "-o", "json"]);
    const log = logged.join("");
    expect(log.length, "the operator logged at trace level").toBeGreaterThan(1000);
    const written: Record<string, string> = { log, events, statuses, classes };
    const secrets: Record<string, string> = {
      password,
      "password (base64)": Buffer.from(password).toString("base64"),
      "wrong password": wrongPassword,
      "wrong password (base64)": Buffer.from(wrongPassword).toString("base64"),
      ...Object.fromEntries(array.issuedKeys.map((k, i) => [`session key ${String(i)}`, k])),
    };
    const leaks: string[] = [];
    for (const [where, text] of Object.entries(written)) {
      for (const [what, value] of Object.entries(secrets)) if (text.includes(value)) leaks.push(`${what} in ${where}`);
    }
    console.log(
      `[secrets] searched ${String(log.length)} bytes of log, ${String(events.length)} of Events, ` +
        `${String(statuses.length + classes.length)} of status for ${String(Object.keys(secrets).length)} secrets`,
    );
    expect(leaks).toEqual([]);
  });
});

describe("a class whose Secret holds the wrong password", () => {
  // The wsapi engine logs in lazily; the CopyClass controller makes one read, so the class itself says why.
  it("is not Ready, and says why", async () => {
    await eventually(
      () => {
        const ready = conditionOf(getObject<Obj>("copyclass", undefined, wrongCls), "Ready");
        expect(ready).toMatchObject({ status: "False", reason: "EngineUnusable" });
        expect(ready?.message).toMatch(/5|password|credential|403/i);
      },
      30_000,
      250,
    );
  });
});

describe("TLS", () => {
  it(
    "verifies the array's certificate by default: a class without caBundle " + "fails with a certificate error",
    async () => {
      applyYaml(vc("no-ca", noCaCls, "sec-src"));
      const copy = await condition("virtualcopy", "no-ca", "Ready", "False");
      const cond = conditionOf(copy, "Ready");
      console.log(`[secrets] no caBundle: ${String(cond?.reason)}: ${String(cond?.message)}`);
      expect(cond?.message).toMatch(/certificate/i);
      expect(await backing.listCopies()).not.toContainEqual(
        expect.objectContaining({ owner: expect.objectContaining({ name: "no-ca" }) as unknown }),
      );
    },
  );
});
