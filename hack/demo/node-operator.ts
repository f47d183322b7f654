// `npm run demo -- --node`: the operator as users run it, the chart's Deployment on the project's one-node cluster.
// The image is built from the Dockerfile (hack/image.sh, which imports it into the node's containerd), helm
// installs the chart with it, and the examples' array volumes are put into the embedded engine's data volume (the
// chart's PVC, a local-path directory on this host) before any CopyClass exists, so nothing has the engine open.
//
// Invariants:
// - the image build is a child of this process and is killed with it when the demo is interrupted;
// - the operator's URL is the Lease holder's pod IP, read again on every call: leadership can move;
// - nothing here is stopped by name: the node cluster's teardown removes the pods with the node.
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureBinaries } from "../control-plane/binaries.ts";
import type { NodeClusterInfo } from "../control-plane/node.ts";
import type { Kubectl } from "./converge.ts";
import { createExampleVolumes, exampleClass, repoRoot } from "./examples.ts";

export const demoImage = { repository: "localhost/arraycopy/operator", tag: "demo" };
export const operatorNamespace = "arraycopy-system";
const release = "arraycopy";
/** The chart's names: the release name contains the chart's name, so its objects are called just `arraycopy`. */
const dataClaim = "arraycopy-data";
const leaseName = "arraycopy-operator";
/** The image's user, who must own the engine's files. */
const imageUser = "65532:65532";

export interface NodeOperator {
  /** The leader's /metrics base URL, at its pod IP on the node's bridge. */
  url(): Promise<string>;
  readonly where: string;
}

async function ok(kubectl: Kubectl, args: readonly string[]): Promise<string> {
  const res = await kubectl(args);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${res.stderr.trim()}`);
  return res.stdout;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs: number, signal: AbortSignal) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(1_000, undefined, { signal });
  }
}

/** `npm run image`, its progress indented under the demo's step; resolves with the image archive's path. */
function buildImage(clusterDir: string, log: (line: string) => void, signal: AbortSignal): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn("bash", [join(repoRoot, "hack", "image.sh")], {
      cwd: repoRoot,
      stdio: ["ignore", "pipe", "pipe"],
      signal,
      env: {
        ...process.env,
        ARRAYCOPY_CLUSTER_DIR: clusterDir,
        ARRAYCOPY_IMAGE: `${demoImage.repository}:${demoImage.tag}`,
      },
    });
    let stdout = "";
    let partial = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      const lines = (partial + d.toString()).split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) log(l);
    });
    child.once("error", reject);
    child.once("close", (code, sig) => {
      if (partial !== "") log(partial);
      const archive = stdout.trim().split("\n").pop() ?? "";
      if (code === 0 && archive !== "") resolve(archive);
      else reject(new Error(`npm run image failed (exit ${code ?? sig ?? "?"})`));
    });
  });
}

function helm(bin: string, home: string, kubeconfig: string, args: readonly string[]): void {
  const res = spawnSync(bin, [...args, "--kubeconfig", kubeconfig], {
    cwd: repoRoot,
    encoding: "utf8",
    timeout: 300_000,
    env: {
      ...process.env,
      HELM_CONFIG_HOME: join(home, "config"),
      HELM_CACHE_HOME: join(home, "cache"),
      HELM_DATA_HOME: join(home, "data"),
    },
  });
  if (res.status !== 0) throw new Error(`helm ${args[0] ?? ""} failed: ${res.stderr}${res.stdout}`);
}

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

async function operatorPods(kubectl: Kubectl): Promise<PodList["items"]> {
  const args = ["get", "pods", "-n", operatorNamespace, "-l", `app.kubernetes.io/instance=${release}`, "-o", "json"];
  return (JSON.parse(await ok(kubectl, args)) as PodList).items;
}

const podReady = (p: PodList["items"][number]) =>
  p.metadata.deletionTimestamp === undefined &&
  p.status.phase === "Running" &&
  (p.status.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");

export interface NodeOperatorOptions {
  readonly info: NodeClusterInfo;
  readonly kubectl: Kubectl;
  /** Where helm keeps its configuration and cache (the demo's state directory). */
  readonly stateDir: string;
  readonly signal: AbortSignal;
  readonly step: <T>(what: string, run: () => Promise<T>) => Promise<T>;
  readonly log: (line: string) => void;
}

/** Builds and imports the image, installs the chart, seeds the engine's data volume; resolves once both run. */
export async function installOnNode(opts: NodeOperatorOptions): Promise<NodeOperator> {
  const { info, kubectl, signal, step, log } = opts;
  const replicas = 2;
  await step("Building the operator's image from the Dockerfile (npm run image) into the node's containerd", () =>
    buildImage(info.dir, log, signal),
  );
  const helmBin = join(ensureBinaries({ helm: true, log }), "helm");
  const helmHome = join(opts.stateDir, "helm");
  mkdirSync(helmHome, { recursive: true });
  await step(`helm install ${release} charts/arraycopy -n ${operatorNamespace} (its CRDs included)`, () => {
    helm(helmBin, helmHome, info.kubeconfig, [
      "install",
      release,
      join(repoRoot, "charts", "arraycopy"),
      "-n",
      operatorNamespace,
      "--create-namespace",
      "--set",
      `image.repository=${demoImage.repository}`,
      "--set",
      `image.tag=${demoImage.tag}`,
      // Imported into the node's containerd; there is no registry to pull from.
      "--set",
      "image.pullPolicy=Never",
      // examples/copyclass.yaml brings the class the examples use.
      "--set",
      "copyClasses.embedded.create=false",
    ]);
    return Promise.resolve();
  });
  await step(`Waiting for ${replicas} operator pods to be Running and Ready`, () =>
    until(
      "the operator's pods",
      async () => {
        const ready = (await operatorPods(kubectl)).filter(podReady);
        return ready.length === replicas ? ready : undefined;
      },
      300_000,
      signal,
    ),
  );
  // The claim is bound now (WaitForFirstConsumer: it bound when the pods were scheduled), and its PV is a directory
  // of this host. Until a CopyClass exists no replica opens the engine, so the volumes can be put there now.
  const path = await until(
    `PVC ${dataClaim}'s volume`,
    async () => {
      const args = ["get", "pvc", dataClaim, "-n", operatorNamespace, "-o", "jsonpath={.spec.volumeName}"];
      const pv = (await ok(kubectl, args)).trim();
      if (pv === "") return undefined;
      const p = (await ok(kubectl, ["get", "pv", pv, "-o", "jsonpath={.spec.hostPath.path}"])).trim();
      return p === "" ? undefined : p;
    },
    120_000,
    signal,
  );
  await step(`Creating the examples' array volumes in the operator's data volume (${path})`, async () => {
    await createExampleVolumes(join(path, exampleClass));
    const chown = spawnSync("chown", ["-R", imageUser, path], { encoding: "utf8" });
    if (chown.status !== 0) throw new Error(`chown ${path} failed: ${chown.stderr}`);
  });
  return {
    where: `the chart's Deployment in namespace ${operatorNamespace} on node ${info.node.name}`,
    async url() {
      const holder = (
        await ok(kubectl, ["get", "lease", leaseName, "-n", operatorNamespace, "-o", "jsonpath={.spec.holderIdentity}"])
      ).trim();
      const pod = (await operatorPods(kubectl)).find((p) => p.metadata.name === holder);
      if (pod?.status.podIP === undefined) throw new Error(`the Lease's holder (${holder || "nobody"}) has no pod IP`);
      return `http://${pod.status.podIP}:8080`;
    },
  };
}
