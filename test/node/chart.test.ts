// The chart's pods on a real node: helm installs the chart with the image built from the Dockerfile, and the
// operator runs as the chart's Deployment (two replicas, Lease leader election) in containers under the kubelet.
// The embedded engine's data directory is a PVC bound to a hostPath PV the test seeds with the examples' array
// volumes (owned by 65532, as the image's user), so the examples converge as they do in test/e2e, and the array's
// state can be read afterwards with the engine itself, with every replica scaled away.
//
// Asserted: both replicas Running and Ready (their probes answered, /healthz and /readyz also answered to this
// process at the pod's IP) and one holds the Lease; `kubectl apply -f examples/` converges; deleting the leader
// hands the Lease to the other replica within the Lease duration, while copies created meanwhile become Ready,
// with one array object per copy and none twice; the pod runs as the chart's securityContext says (uid 65532,
// no capabilities, no new privileges, read-only root, the default memory limit), has no shell, and holds only
// its own ServiceAccount's token, which is not an administrator.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { getText, runningControllers, waitConverged, type Kubectl } from "../../hack/demo/converge.ts";
import { createExampleVolumes, exampleClass, exampleObjects, examplesDir } from "../../hack/demo/examples.ts";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import {
  eventually,
  kubectl as kubectlSync,
  kubectlAsync,
  kubectlAsyncOk,
  kubectlOk,
  repoRoot,
  type KubectlResult,
} from "../support/cluster.ts";

const node = inject("nodeCluster");
const image = inject("image");
const ns = "arraycopy-system";
const release = "arraycopy";
const fullname = "arraycopy"; // the release name contains the chart's name
const leaseName = "arraycopy-operator";
const claim = "arraycopy-data"; // the chart's PVC, provisioned by the node's local-path-provisioner
const helmHome = mkdtempSync(join(tmpdir(), "arraycopy-node-helm-"));
const kubectl: Kubectl = (args) => kubectlAsync(args);

interface PodView {
  metadata: { name: string; deletionTimestamp?: string };
  spec: {
    serviceAccountName?: string;
    nodeName?: string;
    securityContext?: Record<string, unknown>;
    containers: { name: string; securityContext?: Record<string, unknown>; resources?: Record<string, unknown> }[];
  };
  status: {
    phase?: string;
    podIP?: string;
    conditions?: { type: string; status: string }[];
    containerStatuses?: { ready: boolean; restartCount: number }[];
  };
}

function helm(args: readonly string[]): KubectlResult {
  const res = spawnSync(inject("helm"), [...args, "--kubeconfig", node.kubeconfig], {
    encoding: "utf8",
    cwd: repoRoot,
    timeout: 300_000,
    env: {
      ...process.env,
      HELM_CONFIG_HOME: join(helmHome, "config"),
      HELM_CACHE_HOME: join(helmHome, "cache"),
      HELM_DATA_HOME: join(helmHome, "data"),
    },
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

async function pods(): Promise<PodView[]> {
  const out = await kubectlAsyncOk([
    "get",
    "pods",
    "-n",
    ns,
    "-l",
    `app.kubernetes.io/instance=${release}`,
    "-o",
    "json",
  ]);
  return (JSON.parse(out) as { items: PodView[] }).items;
}

const isReady = (p: PodView) =>
  p.metadata.deletionTimestamp === undefined &&
  p.status.phase === "Running" &&
  (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

/** Waits until `n` replicas are Running and Ready, and returns them. */
async function readyPods(n: number, timeoutMs = 180_000): Promise<PodView[]> {
  return eventually(
    async () => {
      const all = await pods();
      const ready = all.filter(isReady);
      if (ready.length !== n || all.length !== n) {
        const states = all.map((p) => `${p.metadata.name}: ${p.status.phase ?? "?"}`).join(", ");
        throw new Error(`want ${n} Ready replicas, have ${states || "none"}`);
      }
      return ready;
    },
    timeoutMs,
    1_000,
  );
}

async function lease(): Promise<{ holder: string; durationS: number }> {
  const out = await kubectlAsyncOk(["get", "lease", leaseName, "-n", ns, "-o", "json"]);
  const l = JSON.parse(out) as { spec: { holderIdentity?: string; leaseDurationSeconds?: number } };
  return { holder: l.spec.holderIdentity ?? "", durationS: l.spec.leaseDurationSeconds ?? 0 };
}

/** Runs node inside the operator's container (the image has no shell) and parses what the script prints. */
async function inPod<T>(pod: string, script: string): Promise<T> {
  const out = await kubectlAsyncOk(["exec", "-n", ns, pod, "-c", "operator", "--", "/nodejs/bin/node", "-e", script]);
  return JSON.parse(out) as T;
}

/** The pods labelled arraycopy.io/leader=true (the cim-listener Service's selector) are exactly the Lease's holder. */
async function labelFollowsLease(): Promise<void> {
  await eventually(
    async () => {
      const { holder } = await lease();
      const args = [
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        "arraycopy.io/leader=true",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      ];
      expect((await kubectlAsyncOk(args)).split(" ").filter(Boolean)).toEqual([holder]);
    },
    30_000,
    500,
  );
}

async function leader(): Promise<PodView> {
  const all = await readyPods(2);
  const { holder } = await eventually(async () => {
    const l = await lease();
    if (!all.some((p) => p.metadata.name === l.holder)) throw new Error(`Lease held by ${l.holder || "nobody"}`);
    return l;
  }, 60_000);
  const p = all.find((x) => x.metadata.name === holder);
  if (p === undefined) throw new Error("no leader");
  return p;
}

/** Where the data volume lives on the node: the hostPath of the PV the provisioner made for the chart's claim. */
async function dataDir(): Promise<{ pv: string; path: string }> {
  return eventually(
    async () => {
      const pv = (await kubectlAsyncOk(["get", "pvc", claim, "-n", ns, "-o", "jsonpath={.spec.volumeName}"])).trim();
      if (pv === "") throw new Error(`PVC ${claim} not bound yet`);
      const path = (await kubectlAsyncOk(["get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}"])).trim();
      if (path === "") throw new Error(`PV ${pv} has no hostPath`);
      return { pv, path };
    },
    120_000,
    500,
  );
}

let data: { pv: string; path: string };
const classDir = () => join(data.path, exampleClass);

/**
 * Scales the operator away, runs `f` on the engine's data directory from this process (the engine is a single
 * writer), hands the files back to the image's user and scales back to two replicas.
 */
async function withReplicasAway<T>(f: () => Promise<T>): Promise<T> {
  kubectlOk(["scale", "deployment", fullname, "-n", ns, "--replicas=0"]);
  await eventually(
    async () => {
      if ((await pods()).length > 0) throw new Error("replicas still running");
    },
    120_000,
    1_000,
  );
  try {
    return await f();
  } finally {
    spawnSync("chown", ["-R", "65532:65532", data.path]);
    kubectlOk(["scale", "deployment", fullname, "-n", ns, "--replicas=2"]);
    await readyPods(2);
  }
}

/** The owner tag of each array object the copy resources should hold: one per copy, one per group member. */
function expectedArrayObjects(): string[] {
  const kinds = "virtualcopies.arraycopy.io,physicalcopies.arraycopy.io,virtualcopygroups.arraycopy.io";
  const out = kubectlOk(["get", kinds, "-A", "-o", "json"]);
  return (
    JSON.parse(out) as {
      items: {
        kind: string;
        metadata: { namespace: string; name: string; uid: string };
        status?: { members?: unknown[] };
      }[];
    }
  ).items
    .flatMap((o) => {
      const tag = `${o.metadata.namespace}/${o.metadata.name}/${o.metadata.uid}`;
      return o.kind === "VirtualCopyGroup" ? (o.status?.members ?? []).map(() => tag) : [tag];
    })
    .sort();
}

/** One array object per copy resource, none twice, none without a resource: read with the engine itself. */
async function arrayObjectsMatchResources(): Promise<void> {
  const resources = expectedArrayObjects();
  await withReplicasAway(async () => {
    const engine = await openEmbeddedEngine({ dataDir: classDir(), expiryIntervalMs: 0 });
    try {
      const held = (await engine.listCopies()).map((c) => `${c.owner.namespace}/${c.owner.name}/${c.owner.uid}`);
      expect(held.sort()).toEqual(resources);
    } finally {
      await engine.close();
    }
  });
}

/** sha256 of every volume's bytes as the engine reads them. */
async function volumeDigests(): Promise<Record<string, string>> {
  const engine = await openEmbeddedEngine({ dataDir: classDir(), expiryIntervalMs: 0 });
  try {
    const out: Record<string, string> = {};
    for (const v of await engine.listVolumes()) {
      const h = createHash("sha256");
      for (let off = 0; off < v.sizeBytes; off += 4 * 1024 * 1024) {
        h.update(await engine.readVolume(v.name, off, Math.min(4 * 1024 * 1024, v.sizeBytes - off)));
      }
      out[v.name] = h.digest("hex");
    }
    return out;
  } finally {
    await engine.close();
  }
}

async function allCopiesReady(timeoutS = 120): Promise<void> {
  const out = await kubectlAsyncOk([
    "get",
    "virtualcopies.arraycopy.io,physicalcopies.arraycopy.io",
    "-A",
    "-o",
    "json",
  ]);
  const items = (JSON.parse(out) as { items: { kind: string; metadata: { namespace: string; name: string } }[] }).items;
  for (const o of items) {
    await kubectlAsyncOk(
      ["wait", "--for=condition=Ready", `--timeout=${timeoutS}s`, "-n", o.metadata.namespace].concat([
        `${o.kind.toLowerCase()}.arraycopy.io/${o.metadata.name}`,
      ]),
    );
  }
}

function virtualCopies(names: readonly string[]): string {
  return names
    .map((name) =>
      stringify({
        apiVersion: "arraycopy.io/v1alpha1",
        kind: "VirtualCopy",
        metadata: { name, namespace: "default" },
        spec: { source: { persistentVolumeClaimName: "postgres-data" }, deletionPolicy: "Delete" },
      }),
    )
    .join("---\n");
}

beforeAll(async () => {
  kubectlOk(["create", "namespace", ns]);
  const installed = helm([
    "install",
    release,
    join(repoRoot, "charts", "arraycopy"),
    "-n",
    ns,
    "--set",
    `image.repository=${image.repository}`,
    "--set",
    `image.tag=${image.tag}`,
    // Imported into the node's containerd; there is no registry to pull from.
    "--set",
    "image.pullPolicy=Never",
    // examples/copyclass.yaml brings the default class the examples use.
    "--set",
    "copyClasses.embedded.create=false",
  ]);
  if (installed.code !== 0) throw new Error(`helm install failed: ${installed.stderr}${installed.stdout}`);
  // The claim binds (WaitForFirstConsumer) once the replicas are scheduled; until a CopyClass exists nothing opens
  // the engine, so the examples' array volumes can be put into its directory now.
  data = await dataDir();
  await readyPods(2);
  await createExampleVolumes(classDir());
  spawnSync("chown", ["-R", "65532:65532", data.path]);
});

afterAll(async () => {
  rmSync(helmHome, { recursive: true, force: true });
  // The node is torn down by the global setup; the operator's logs are kept in the node's directory.
  for (const p of await pods().catch(() => [])) {
    const logs = await kubectlAsync(["logs", "-n", ns, p.metadata.name, "--tail=200"]);
    process.stderr.write(`--- ${p.metadata.name} (last 200 lines)\n${logs.stdout.split("\n").slice(-20).join("\n")}\n`);
  }
});

describe("the chart on a node", () => {
  it("runs both replicas Running and Ready, answering their probes, and one holds the Lease", async () => {
    const ready = await readyPods(2);
    for (const p of ready) {
      expect(p.spec.nodeName).toBe(node.node.name);
      expect(p.status.containerStatuses?.[0]?.ready).toBe(true);
      expect(p.status.containerStatuses?.[0]?.restartCount).toBe(0);
      // The pod network is this host's bridge: the probes' endpoints answer here as they answer the kubelet.
      const ip = p.status.podIP ?? "";
      expect((await getText(`http://${ip}:8080/healthz`)).status).toBe(200);
      expect((await getText(`http://${ip}:8080/readyz`)).status).toBe(200);
    }
    const l = await leader();
    expect(ready.map((p) => p.metadata.name)).toContain(l.metadata.name);
    await labelFollowsLease();
  });

  it("runs as the chart's securityContext says, with only its own ServiceAccount and no shell", async () => {
    const p = await leader();
    expect(p.spec.serviceAccountName).toBe(fullname);
    expect(p.spec.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532 });
    expect(p.spec.containers[0]?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    const seen = await inPod<{
      uid: number;
      gid: number;
      capEff: string;
      noNewPrivs: string;
      rootWrite: string;
      dataWrite: string;
      memLimit: string;
      secrets: string[];
      sub: string;
      kubeconfigEnv: string | null;
      kubeDir: boolean;
    }>(
      p.metadata.name,
      `const fs = require("fs");
       const status = fs.readFileSync("/proc/self/status", "utf8");
       const field = (k) => (status.match(new RegExp("^" + k + ":\\\\s*(\\\\S+)", "m")) || [])[1];
       const tryWrite = (f) => {
         try { fs.writeFileSync(f, "x"); fs.unlinkSync(f); return "ok"; } catch (e) { return e.code; }
       };
       const sa = "/var/run/secrets/kubernetes.io/serviceaccount";
       const token = fs.readFileSync(sa + "/token", "utf8");
       console.log(JSON.stringify({
         uid: process.getuid(), gid: process.getgid(), capEff: field("CapEff"), noNewPrivs: field("NoNewPrivs"),
         rootWrite: tryWrite("/app/probe"), dataWrite: tryWrite("/var/lib/arraycopy/probe"),
         memLimit: fs.readFileSync("/sys/fs/cgroup/memory/memory.limit_in_bytes", "utf8").trim(),
         secrets: fs.readdirSync("/var/run/secrets").concat(fs.readdirSync("/var/run/secrets/kubernetes.io")),
         sub: JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString()).sub,
         kubeconfigEnv: process.env.KUBECONFIG ?? null, kubeDir: fs.existsSync("/home/nonroot/.kube"),
       }));`,
    );
    expect(seen).toMatchObject({
      uid: 65532,
      gid: 65532,
      capEff: "0000000000000000",
      noNewPrivs: "1",
      rootWrite: "EROFS",
      dataWrite: "ok",
      memLimit: String(512 * 1024 * 1024),
      secrets: ["kubernetes.io", "serviceaccount"],
      sub: `system:serviceaccount:${ns}:${fullname}`,
      kubeconfigEnv: null,
      kubeDir: false,
    });
    // No shell to exec into, and the token's identity is no administrator.
    const shell = await kubectlAsync([
      "exec",
      "-n",
      ns,
      p.metadata.name,
      "-c",
      "operator",
      "--",
      "/bin/sh",
      "-c",
      "true",
    ]);
    expect(shell.code).not.toBe(0);
    const sa = `system:serviceaccount:${ns}:${fullname}`;
    // Pods only in its own namespace: the populator's (docs/populator.md).
    const canCreatePods = async (where: string) =>
      (await kubectlAsync(["auth", "can-i", "create", "pods", "-n", where, `--as=${sa}`])).stdout.trim();
    expect(await canCreatePods(ns)).toBe("yes");
    expect(await canCreatePods("default")).toBe("no");
    expect((await kubectlAsync(["auth", "can-i", "*", "*", `--as=${sa}`])).stdout.trim()).toBe("no");
  });

  it("converges kubectl apply -f examples/ as the operator in its pod", async () => {
    kubectlOk(["apply", "-f", examplesDir]);
    const l = await leader();
    const controllers = await runningControllers(`http://${l.status.podIP ?? ""}:8080`);
    expect([...controllers]).toEqual(expect.arrayContaining(["copyjob", "physicalcopy", "virtualcopy"]));
    expect(await waitConverged(kubectl, exampleObjects(), controllers, 240)).toEqual([]);
  });

  it("hands leadership to the other replica within the Lease duration, making no array object twice", async () => {
    const before = await leader();
    const { durationS } = await lease();
    expect(durationS).toBeGreaterThan(0);
    const standby = (await readyPods(2)).find((p) => p.metadata.name !== before.metadata.name);
    // A warm standby is there before the leader goes.
    if (standby === undefined) throw new Error("no standby");
    // Copies created while leadership moves: whichever replica handles them, each becomes one array object.
    const names = ["failover-1", "failover-2", "failover-3"];
    kubectlOk(["apply", "-f", "-"], { input: virtualCopies(names) });
    const t0 = Date.now();
    kubectlOk(["delete", "pod", "-n", ns, before.metadata.name, "--wait=false"]);
    const tookMs = await eventually(
      async () => {
        const l = await lease();
        // The warm standby, or the replacement pod the ReplicaSet starts at once: whichever asks first after the
        // old leader released the Lease on SIGTERM. Either is a live replica other than the one deleted.
        if (l.holder === "" || l.holder === before.metadata.name)
          throw new Error(`Lease held by ${l.holder === "" ? "nobody" : l.holder}`);
        return Date.now() - t0;
      },
      durationS * 1000 * 3,
      200,
    );
    process.stderr.write(`[test:node] leadership moved in ${tookMs} ms (Lease duration ${durationS} s)\n`);
    expect(tookMs).toBeLessThan(durationS * 1000);
    await kubectlAsyncOk(
      ["wait", "--for=condition=Ready", "--timeout=120s", "-n", "default"].concat(
        names.map((n) => `virtualcopy.arraycopy.io/${n}`),
      ),
    );
    await readyPods(2);
    await labelFollowsLease();

    await arrayObjectsMatchResources();
  });

  it("keeps the engine's volumes on the provisioned PVC, byte for byte, across new pods", async () => {
    const before = await withReplicasAway(volumeDigests);
    expect(Object.keys(before)).toEqual(expect.arrayContaining(["postgres-data", "postgres-test"]));
    // New pods (the Deployment's old ones went above): the same claim, bound to the same volume.
    expect((await dataDir()).pv).toBe(data.pv);
    await allCopiesReady();
    kubectlOk(["apply", "-f", "-"], { input: virtualCopies(["after-restart"]) });
    await kubectlAsyncOk([
      "wait",
      "--for=condition=Ready",
      "--timeout=120s",
      "-n",
      "default",
      "virtualcopy/after-restart",
    ]);
    const after = await withReplicasAway(volumeDigests);
    for (const [name, digest] of Object.entries(before)) expect(after[name], name).toBe(digest);
  });

  it("recovers from SIGKILL of the leader's container: restarted, Ready, copies converge, nothing leaked", async () => {
    const victim = await leader();
    const { durationS } = await lease();
    const id = String(
      (victim.status as { containerStatuses?: { containerID?: string }[] }).containerStatuses?.[0]?.containerID,
    ).replace(/^containerd:\/\//, "");
    kubectlOk(["apply", "-f", "-"], { input: virtualCopies(["sigkill-1", "sigkill-2"]) });
    const killed = spawnSync(
      node.node.ctr,
      ["--address", node.node.containerdSocket, "-n", "k8s.io", "tasks", "kill"].concat(["--signal", "SIGKILL", id]),
      { encoding: "utf8" },
    );
    expect(killed.status, killed.stderr).toBe(0);
    await eventually(
      async () => {
        const p = (await pods()).find((x) => x.metadata.name === victim.metadata.name);
        if ((p?.status.containerStatuses?.[0]?.restartCount ?? 0) < 1 || p === undefined || !isReady(p))
          throw new Error(`${victim.metadata.name} not restarted and Ready yet`);
      },
      180_000,
      1_000,
    );
    // Someone leads within the Lease duration of the kill (the killed leader could not release the Lease).
    const l = await eventually(async () => {
      const x = await lease();
      if (x.holder === "") throw new Error("no holder");
      return x;
    }, durationS * 2000);
    expect((await readyPods(2)).map((p) => p.metadata.name)).toContain(l.holder);
    // The restarted container took off the label its killed predecessor left, whoever leads now.
    await labelFollowsLease();
    await kubectlAsyncOk(
      ["wait", "--for=condition=Ready", "--timeout=180s", "-n", "default"].concat([
        "virtualcopy/sigkill-1",
        "virtualcopy/sigkill-2",
      ]),
    );
    await arrayObjectsMatchResources();
  });

  it("rolls the pods on helm upgrade with changed values, losing no copy", async () => {
    const before = (await pods()).map((p) => p.metadata.name).sort();
    const copiesBefore = kubectlOk(["get", "virtualcopies,physicalcopies", "-A", "-o", "name"]).split("\n").sort();
    const upgraded = helm(
      ["upgrade", release, join(repoRoot, "charts", "arraycopy"), "-n", ns, "--reuse-values"].concat([
        "--set",
        "operator.logLevel=debug",
      ]),
    );
    expect(upgraded.code, upgraded.stderr).toBe(0);
    const after = await eventually(
      async () => {
        const ready = await readyPods(2);
        if (ready.some((p) => before.includes(p.metadata.name))) throw new Error("old replicas still there");
        return ready;
      },
      240_000,
      1_000,
    );
    const args = JSON.stringify(after.map((p) => (p.spec.containers[0] as { args?: string[] }).args));
    expect(args).toContain("--log-level=debug");
    await leader();
    await allCopiesReady();
    expect(kubectlOk(["get", "virtualcopies,physicalcopies", "-A", "-o", "name"]).split("\n").sort()).toEqual(
      copiesBefore,
    );
    await arrayObjectsMatchResources();
  });

  it("leaves the CRDs, the copies and the data volume on helm uninstall, as docs/install.md says", async () => {
    const copiesBefore = kubectlOk(["get", "virtualcopies,physicalcopies", "-A", "-o", "name"]).split("\n").sort();
    const objectsBefore = expectedArrayObjects().length;
    const removed = helm(["uninstall", release, "-n", ns, "--wait", "--timeout=120s"]);
    expect(removed.code, removed.stderr).toBe(0);
    await eventually(
      async () => {
        if ((await pods()).length > 0) throw new Error("replicas still running");
      },
      120_000,
      1_000,
    );
    for (const crd of ["virtualcopies", "physicalcopies", "copyjobs", "copyclasses"])
      expect(kubectlSync(["get", "crd", `${crd}.arraycopy.io`]).code, crd).toBe(0);
    expect(kubectlOk(["get", "virtualcopies,physicalcopies", "-A", "-o", "name"]).split("\n").sort()).toEqual(
      copiesBefore,
    );
    expect(kubectlOk(["get", "pvc", claim, "-n", ns, "-o", "jsonpath={.spec.volumeName}"]).trim()).toBe(data.pv);
    // The array's objects are all still there too.
    const engine = await openEmbeddedEngine({ dataDir: classDir(), expiryIntervalMs: 0 });
    try {
      expect((await engine.listCopies()).length).toBe(objectsBefore);
    } finally {
      await engine.close();
    }
  });
});
