// Argo CD health checks (deploy/argocd/argocd-cm.yaml) run in Argo CD's own interpreter — gopher-lua at the version
// Argo CD pins, opened as its controller opens it (hack/argocd/lua-health) — against objects read from the real
// apiserver in each state, put there by the operator: copies Ready, copying, queued, Broken, DeletionRefused; jobs
// New, Running, Completed, Exception, Terminated; a class that cannot be used; schedules Ready, Suspended, Stalled;
// a group Ready, and one whose members cannot be found.
// The script each kind gets is the one in the ConfigMap users install, read from the generated file.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { kinds } from "../../operator/src/api/crds.ts";
import { healthKey } from "../../hack/gen-argocd.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, repoRoot } from "../support/cluster.ts";
import { HoldingEngine } from "../support/holding-engine.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  getObject,
  startOperator,
  waitForCondition,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const api = "arraycopy.io/v1alpha1";
const cls = `ah-it-${Math.random().toString(36).slice(2, 7)}`;
const brokenClass = `${cls}-nosecret`;
const holding = new HoldingEngine();
const evaluated = new Set<string>();
let op: RunningOperator;
let ns: string;
let luaHealth: string;
const scripts = new Map<string, string>();

interface Obj {
  metadata: { name: string };
  status?: Record<string, unknown> & { conditions?: ConditionView[]; targetVolume?: string };
}

interface Health {
  readonly status: string;
  readonly message: string;
}

const spec = (kind: string, name: string, body: Record<string, unknown>) => ({
  apiVersion: api,
  kind,
  metadata: { name, ...(kind === "CopyClass" ? {} : { namespace: ns }) },
  spec: body,
});
const vc = (name: string, extra: Record<string, unknown> = {}) =>
  spec("VirtualCopy", name, { copyClassName: cls, source: { volumeName: "src" }, ...extra });
const pc = (name: string, target: string, saveSnapshot = true) =>
  spec("PhysicalCopy", name, {
    copyClassName: cls,
    source: { volumeName: "src" },
    target: { volumeName: target },
    saveSnapshot,
  });
const job = (name: string, kind: string, copy: string, operation: string) =>
  spec("CopyJob", name, { copyRef: { kind, name: copy }, operation });
const schedule = (name: string, extra: Record<string, unknown>) =>
  spec("CopySchedule", name, {
    schedule: "0 2 * * *",
    virtualCopyTemplate: { spec: { copyClassName: cls, source: { volumeName: "src" } } },
    retention: { keepLast: 3 },
    ...extra,
  });

/** The object as the apiserver holds it, through the script Argo CD would run for its kind. */
function health(kind: string, name: string, namespaced = true): Health {
  const res = kubectl(["get", kind, name, ...(namespaced ? ["-n", ns] : []), "-o", "json"]);
  if (res.code !== 0) throw new Error(res.stderr);
  const obj = JSON.parse(res.stdout) as { kind: string };
  const script = scripts.get(obj.kind);
  if (script === undefined) throw new Error(`argocd-cm.yaml has no health check for ${obj.kind}`);
  const run = spawnSync(luaHealth, [script], { input: res.stdout, encoding: "utf8" });
  if (run.status !== 0) throw new Error(`lua-health failed on ${obj.kind}/${name}: ${run.stderr}`);
  evaluated.add(obj.kind);
  const result = JSON.parse(run.stdout) as Health;
  console.log(`[argocd-health] ${obj.kind}/${name}: ${result.status} — ${result.message}`);
  return result;
}

/** Waits until the kind's condition shows `reason`, then returns the health Argo CD reads from it. */
async function healthAt(kind: string, name: string, type: string, reason: string, namespaced = true) {
  await eventually(
    () => {
      const obj = getObject<Obj>(kind, namespaced ? ns : undefined, name);
      expect(conditionOf(obj, type)?.reason, `${kind}/${name} ${type}`).toBe(reason);
    },
    60_000,
    100,
  );
  return health(kind, name, namespaced);
}

function expectHealth(h: Health, status: string, message?: RegExp): void {
  expect(h.status, h.message).toBe(status);
  if (message !== undefined) expect(h.message).toMatch(message);
}

beforeAll(async () => {
  const built = spawnSync("bash", [join(repoRoot, "hack", "build-go-tool.sh"), "hack/argocd/lua-health"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (built.status !== 0) throw new Error("cannot build hack/argocd/lua-health");
  luaHealth = built.stdout.trim().split("\n").at(-1) ?? "";
  const cm = parse(readFileSync(join(repoRoot, "deploy", "argocd", "argocd-cm.yaml"), "utf8")) as {
    data: Record<string, string>;
  };
  const dir = mkdtempSync(join(tmpdir(), "argocd-health-"));
  for (const k of kinds) {
    const text = cm.data[healthKey(k.kind)];
    if (text === undefined) continue;
    const file = join(dir, `${k.kind}.lua`);
    writeFileSync(file, text);
    scripts.set(k.kind, file);
  }
  installCrds();
  ns = freshNamespace("ah");
  applyYaml(embeddedClass(cls));
  op = startOperator([], { wrap: (e) => holding.wrap(e) });
  const engine = await op.engine(cls);
  for (const v of ["src", "filler-src", "t-copying", "t-queued", "t-broken", "t-plain"])
    await engine.volumes.createVolume(v, 4 << 20);
  await engine.volumes.writeVolume("src", 0, Buffer.alloc(1 << 20, 7));
  await engine.volumes.writeVolume("filler-src", 0, Buffer.alloc(1 << 20, 9));
}, 180_000);

afterAll(async () => {
  holding.release();
  await op.stop();
  kubectl(["delete", "copyclass", cls, brokenClass, "--wait=false"]);
});

describe("Argo CD health checks, in Argo CD's interpreter, on objects the operator wrote", () => {
  it("ships one check per kind of the API", () => {
    expect([...scripts.keys()].sort()).toEqual(kinds.map((k) => k.kind).sort());
  });

  it("VirtualCopy Ready is Healthy", async () => {
    applyYaml(vc("ready"));
    await waitForCondition("virtualcopy", ns, "ready", "Ready");
    expectHealth(health("virtualcopy", "ready"), "Healthy", /^Idle/);
  });

  it("VirtualCopyGroup Ready is Healthy, and one whose selector matches no claim is Degraded", async () => {
    applyYaml(spec("VirtualCopyGroup", "group", { copyClassName: cls, members: { volumes: ["src", "filler-src"] } }));
    await waitForCondition("virtualcopygroup", ns, "group", "Ready");
    expectHealth(health("virtualcopygroup", "group"), "Healthy", /^Idle: all 2 member copies are ready/);
    applyYaml(
      spec("VirtualCopyGroup", "no-claims", {
        copyClassName: cls,
        members: { selector: { matchLabels: { app: "none" } } },
      }),
    );
    expectHealth(
      await healthAt("virtualcopygroup", "no-claims", "Ready", "SourceNotFound"),
      "Degraded",
      /^SourceNotFound: no PersistentVolumeClaim/,
    );
  });

  it("a PhysicalCopy copying and its job Running are Progressing, with the progress", async () => {
    holding.hold();
    applyYaml(pc("copying", "t-copying"));
    expectHealth(
      await healthAt("physicalcopy", "copying", "Ready", "Copying"),
      "Progressing",
      /^Copying: copying src onto t-copying: \d+%/,
    );
    expectHealth(
      await healthAt("copyjob", "copying-copy", "Succeeded", "Running"),
      "Progressing",
      /^Running: .* running: \d+%/,
    );
  });

  it("a PhysicalCopy queued behind the array's running copies is Progressing, and so is its job", async () => {
    const engine = await op.engine(cls);
    const owner = { namespace: ns, name: "filler", uid: "filler-uid" };
    let n = 0;
    holding.hold({
      queueBehind: () => {
        n++;
        const limit = engine.capabilities().maxConcurrentPhysicalCopies;
        return Promise.all(
          Array.from({ length: limit }, (_, i) =>
            engine.createPhysicalCopy({
              name: `filler-${String(n)}-${String(i)}`,
              source: "filler-src",
              online: true,
              saveSnapshot: false,
              owner,
            }),
          ),
        );
      },
    });
    applyYaml(pc("queued", "t-queued"));
    expectHealth(
      await healthAt("physicalcopy", "queued", "Ready", "Queued"),
      "Progressing",
      /^Queued: the copy onto t-queued is queued/,
    );
    expectHealth(await healthAt("copyjob", "queued-copy", "Succeeded", "Queued"), "Progressing", /^Queued: /);
  });

  it("once the array finishes, the copies are Healthy and their jobs Completed are Healthy", async () => {
    holding.release();
    for (const name of ["copying", "queued"]) {
      expectHealth(await healthAt("physicalcopy", name, "Ready", "Frozen"), "Healthy", /^Frozen: /);
      expectHealth(await healthAt("copyjob", `${name}-copy`, "Succeeded", "Completed"), "Healthy");
    }
  });

  it("a PhysicalCopy the array reports Broken is Degraded", async () => {
    applyYaml(pc("broken", "t-broken"));
    const ready = await waitForCondition<Obj>("physicalcopy", ns, "broken", "Ready");
    holding.breakCopy(ready.status?.targetVolume ?? "t-broken");
    // A change wakes the copy at once (at rest, nothing else makes the operator look).
    await kubectlAsyncOk(["annotate", "physicalcopy", "broken", "-n", ns, "test/poke=1"]);
    expectHealth(await healthAt("physicalcopy", "broken", "Ready", "Broken"), "Degraded", /^Broken: /);
  });

  it("a VirtualCopy whose deletion the array refuses is Degraded, saying why", async () => {
    applyYaml(vc("locked", { expirationHours: 2, retentionHours: 1 }));
    await waitForCondition("virtualcopy", ns, "locked", "Ready");
    await kubectlAsyncOk(["delete", "virtualcopy", "locked", "-n", ns, "--wait=false"]);
    expectHealth(
      await healthAt("virtualcopy", "locked", "Ready", "DeletionRefused"),
      "Degraded",
      /^DeletionRefused: .*retained until/,
    );
  });

  it("a CopyJob New (its copy not made yet) is Progressing; Terminated is Degraded", async () => {
    applyYaml(job("waiting", "PhysicalCopy", "not-yet", "StartCopy"));
    expectHealth(
      await healthAt("copyjob", "waiting", "Succeeded", "WaitingForCopy"),
      "Progressing",
      /^WaitingForCopy: /,
    );
    expect(getObject<Obj>("copyjob", ns, "waiting")?.status).toMatchObject({ jobState: "New" });
    await kubectlAsyncOk([
      "patch",
      "copyjob",
      "waiting",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ spec: { requestedState: "Terminate" } }),
    ]);
    expectHealth(await healthAt("copyjob", "waiting", "Succeeded", "Terminated"), "Degraded", /^Terminated/);
    expect(getObject<Obj>("copyjob", ns, "waiting")?.status).toMatchObject({ jobState: "Terminated" });
  });

  it("a CopyJob the array cannot run (Exception) is Degraded", async () => {
    applyYaml(pc("plain", "t-plain", false));
    await waitForCondition("physicalcopy", ns, "plain", "Ready");
    applyYaml(job("impossible", "PhysicalCopy", "plain", "Resync"));
    expectHealth(await healthAt("copyjob", "impossible", "Succeeded", "NotAssociated"), "Degraded", /^NotAssociated: /);
    expect(getObject<Obj>("copyjob", ns, "impossible")?.status).toMatchObject({ jobState: "Exception" });
  });

  it("a CopyClass the operator cannot use is Degraded; a usable one Healthy", async () => {
    applyYaml(
      spec("CopyClass", brokenClass, {
        driver: "wsapi",
        wsapi: {
          endpoint: "https://127.0.0.1:9/api/v1",
          credentialsSecretRef: { name: "no-such-secret", namespace: ns },
          cpg: "SSD_r6",
        },
      }),
    );
    expectHealth(
      await healthAt("copyclass", brokenClass, "Ready", "EngineUnusable", false),
      "Degraded",
      /^EngineUnusable: cannot drive the array/,
    );
    expectHealth(await healthAt("copyclass", cls, "Ready", "EngineReady", false), "Healthy");
  });

  it("a CopySchedule scheduled is Healthy, suspended Suspended, one that never fires Degraded", async () => {
    applyYaml(
      schedule("nightly", {}),
      schedule("paused", { suspend: true }),
      schedule("never", { schedule: "0 0 31 2 *" }),
    );
    expectHealth(await healthAt("copyschedule", "nightly", "Ready", "Scheduled"), "Healthy");
    expectHealth(await healthAt("copyschedule", "paused", "Ready", "Suspended"), "Suspended", /^Suspended/);
    expectHealth(
      await healthAt("copyschedule", "never", "Stalled", "InvalidSchedule"),
      "Degraded",
      /^InvalidSchedule: /,
    );
  });

  it("every kind was evaluated in one of its states", () => {
    expect([...evaluated].sort()).toEqual(kinds.map((k) => k.kind).sort());
  });
});
