// `npm run bench:node-rss [-- --copies 1000]`: the operator pod's memory on a real node, under the chart's default
// resources: a node cluster of its own, the image from the Dockerfile, the chart installed with its defaults (two
// replicas, the provisioned data volume), then the leader's RSS (VmRSS of its container's process, read on the
// host) and its container's memory cgroup usage, at rest and once N VirtualCopies are Ready. A benchmark, not a
// test: it prints figures and exits 0 when it could measure them.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureBinaries } from "../control-plane/binaries.ts";
import { stopCluster } from "../control-plane/cluster.ts";
import { startNodeCluster, type NodeClusterInfo } from "../control-plane/node.ts";
import { createExampleVolumes } from "../demo/examples.ts";
import { writeResults } from "../../bench/results.ts";

const repoRoot = join(import.meta.dirname, "..", "..");
const dir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "arraycopy", "node-bench-cluster");
const ns = "arraycopy-system";
const image = "localhost/arraycopy/operator:bench";

function run(bin: string, args: readonly string[], input?: string, env?: NodeJS.ProcessEnv): string {
  const res = spawnSync(bin, args, { encoding: "utf8", input, env, cwd: repoRoot, maxBuffer: 64 * 1024 * 1024 });
  if (res.status !== 0) throw new Error(`${bin} ${args.slice(0, 4).join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

function kubectl(info: NodeClusterInfo, args: readonly string[], input?: string): string {
  return run(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args], input);
}

interface Pod {
  metadata: { name: string };
  status: { containerStatuses?: { containerID?: string; ready: boolean }[] };
}

function leaderPod(info: NodeClusterInfo): Pod {
  const holder = kubectl(info, [
    "get",
    "lease",
    "arraycopy-operator",
    "-n",
    ns,
    "-o",
    "jsonpath={.spec.holderIdentity}",
  ]);
  const pods = JSON.parse(kubectl(info, ["get", "pods", "-n", ns, "-o", "json"])) as { items: Pod[] };
  const p = pods.items.find((x) => x.metadata.name === holder.trim());
  if (p === undefined) throw new Error(`no leader pod (Lease held by ${holder || "nobody"})`);
  return p;
}

/** VmRSS of the leader container's main process and its memory cgroup's usage, both in MiB. */
function memory(info: NodeClusterInfo): { rssMiB: number; cgroupMiB: number; pod: string } {
  const pod = leaderPod(info);
  const id = (pod.status.containerStatuses?.[0]?.containerID ?? "").replace(/^containerd:\/\//, "");
  const tasks = run(info.node.ctr, ["--address", info.node.containerdSocket, "-n", "k8s.io", "tasks", "ls"]);
  const pid = tasks
    .split("\n")
    .map((l) => l.trim().split(/\s+/))
    .find((f) => f[0] === id)?.[1];
  if (pid === undefined) throw new Error(`no task for container ${id}`);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rssKiB = Number(/^VmRSS:\s+(\d+)/m.exec(status)?.[1] ?? "0");
  const cg = /:memory:(.*)$/m.exec(readFileSync(`/proc/${pid}/cgroup`, "utf8"))?.[1] ?? "";
  const usage = Number(readFileSync(join("/sys/fs/cgroup/memory", cg, "memory.usage_in_bytes"), "utf8"));
  return { rssMiB: Math.round(rssKiB / 1024), cgroupMiB: Math.round(usage / 1024 / 1024), pod: pod.metadata.name };
}

async function main(): Promise<number> {
  const { values } = parseArgs({ options: { copies: { type: "string", default: "1000" } } });
  const n = Number(values.copies);
  const info = await startNodeCluster({ dir, ownerPid: process.pid });
  try {
    run("bash", [join(repoRoot, "hack", "image.sh")], undefined, {
      ...process.env,
      ARRAYCOPY_CLUSTER_DIR: dir,
      ARRAYCOPY_IMAGE: image,
    });
    const helm = join(ensureBinaries({ helm: true }), "helm");
    kubectl(info, ["create", "namespace", ns]);
    const [repository, tag] = image.split(/:(?=[^:]*$)/);
    run(
      helm,
      ["install", "arraycopy", join(repoRoot, "charts", "arraycopy"), "-n", ns, "--kubeconfig", info.kubeconfig]
        .concat(["--set", `image.repository=${repository ?? ""}`, "--set", `image.tag=${tag ?? ""}`])
        .concat(["--set", "image.pullPolicy=Never", "--set", "copyClasses.embedded.create=false", "--wait"]),
    );
    const pv = kubectl(info, ["get", "pvc", "arraycopy-data", "-n", ns, "-o", "jsonpath={.spec.volumeName}"]).trim();
    const path = kubectl(info, ["get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}"]).trim();
    await createExampleVolumes(join(path, "embedded"));
    run("chown", ["-R", "65532:65532", path]);
    kubectl(info, ["apply", "-f", join(repoRoot, "examples", "copyclass.yaml")]);
    await sleep(30_000);
    const rest = memory(info);
    console.log(`at rest: leader ${rest.pod} RSS ${rest.rssMiB} MiB, container memory cgroup ${rest.cgroupMiB} MiB`);
    const copies = Array.from({ length: n }, (_, i) => ({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name: `bench-${i}`, namespace: "default" },
      spec: { source: { volumeName: "postgres-data" }, deletionPolicy: "Delete" },
    }));
    const t0 = Date.now();
    for (let i = 0; i < n; i += 200) {
      const items = copies.slice(i, i + 200);
      kubectl(info, ["apply", "-f", "-"], JSON.stringify({ apiVersion: "v1", kind: "List", items }));
    }
    kubectl(
      info,
      ["wait", "--for=condition=Ready", "virtualcopies.arraycopy.io", "--all", "-n", "default"].concat([
        "--timeout=900s",
      ]),
    );
    const readySeconds = (Date.now() - t0) / 1000;
    console.log(`${n} VirtualCopies Ready in ${readySeconds.toFixed(1)} s`);
    await sleep(30_000);
    const loaded = memory(info);
    console.log(`with ${n} copies: leader RSS ${loaded.rssMiB} MiB, container memory cgroup ${loaded.cgroupMiB} MiB`);
    const limits = kubectl(
      info,
      ["get", "deploy", "arraycopy", "-n", ns, "-o"].concat(["jsonpath={.spec.template.spec.containers[0].resources}"]),
    );
    console.log(`chart's default resources: ${limits}`);
    const file = writeResults("node-rss", {
      copies: n,
      atRest: rest,
      withCopies: loaded,
      readySeconds,
      resources: JSON.parse(limits === "" ? "{}" : limits) as unknown,
    });
    console.log(`figures written to ${file}`);
    return 0;
  } finally {
    await stopCluster(dir);
  }
}

process.exitCode = await main();
