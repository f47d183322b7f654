// `npm run demo`: the whole product on one machine in one command. It starts a local control plane (building it
// the first time), installs the CRDs, creates the examples' array volumes in an embedded engine, starts the
// operator as its own process, applies examples/ with kubectl as a user would, and shows copies, jobs and Events
// every second until Ctrl-C; then it stops the operator (SIGTERM) and the control plane and says where the logs are.
//   npm run demo                    live view until Ctrl-C
//   npm run demo -- --once          wait until the examples converge, print the view once, clean up; exit 0 or 1
//   npm run demo -- --timeout 300   how long --once waits, in seconds (default 180)
//   npm run demo -- --node          the same on a one-node cluster (root, cgroups; docs/node.md): the operator runs
//                                   as the chart's Deployment, from the image built from the Dockerfile, and
//                                   examples/node/ is applied too (a PVC made from a copy)
// State lives in ~/.local/state/arraycopy/demo (or ARRAYCOPY_DEMO_DIR): cluster/, data/, operator.log. Everything
// started is recorded and watched by this process, so a crash orphans nothing and the next run reaps leftovers.
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { parseArgs } from "node:util";
import { startCluster, stopCluster, type ClusterInfo } from "./control-plane/cluster.ts";
import { ensureNodePackages } from "./control-plane/binaries.ts";
import { missingForNode } from "./control-plane/node-host.ts";
import { startNodeCluster } from "./control-plane/node.ts";
import { killRecorded } from "./control-plane/processes.ts";
import {
  getText,
  reconciledControllers,
  runningControllers,
  skippedKinds,
  waitConverged,
  type Kubectl,
} from "./demo/converge.ts";
import {
  createExampleVolumes,
  crdsDir,
  exampleClass,
  exampleObjects,
  examplesDir,
  nodeExamplesDir,
  repoRoot,
} from "./demo/examples.ts";
import { installOnNode } from "./demo/node-operator.ts";
import { startOperatorProcess, type OperatorProcess } from "./demo/operator-process.ts";
import { fetchView, renderView } from "./demo/view.ts";

const stateDir =
  process.env.ARRAYCOPY_DEMO_DIR ??
  join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "arraycopy", "demo");
const paths = {
  cluster: join(stateDir, "cluster"),
  data: join(stateDir, "data"),
  operatorLog: join(stateDir, "operator.log"),
  pids: join(stateDir, "pids.json"),
};

const stop = new AbortController();
class Interrupted extends Error {}
/** A function, not a property read, so type narrowing does not assume nothing changed across an await. */
const interrupted = (): boolean => stop.signal.aborted;

function kubectlFor(info: ClusterInfo): Kubectl {
  return (args) =>
    new Promise((resolve, reject) => {
      const child = spawn(info.kubectl, [`--kubeconfig=${info.kubeconfig}`, ...args], {
        cwd: repoRoot,
        stdio: ["ignore", "pipe", "pipe"],
      });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
      child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
      child.once("error", reject);
      child.once("close", (code) => {
        resolve({ code: code ?? -1, stdout, stderr });
      });
    });
}

async function ok(kubectl: Kubectl, args: readonly string[]): Promise<string> {
  const res = await kubectl(args);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${res.stderr.trim()}`);
  return res.stdout;
}

async function step<T>(what: string, run: () => Promise<T>): Promise<T> {
  if (interrupted()) throw new Interrupted();
  console.log(`==> ${what}`);
  const started = Date.now();
  const result = await run();
  console.log(`    done in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (interrupted()) throw new Interrupted();
  return result;
}

/** Where the operator answers /metrics: a process of this host, or the leader's pod. */
interface Operator {
  url(): Promise<string>;
}

async function converge(kubectl: Kubectl, op: Operator, timeoutS: number): Promise<boolean> {
  const controllers = await runningControllers(await op.url());
  const skipped = skippedKinds(controllers);
  if (skipped.length > 0)
    console.log(`    not waiting for ${skipped.join(", ")}: no controller for them reconciles in this operator yet`);
  const problems = await waitConverged(kubectl, exampleObjects(), controllers, timeoutS);
  for (const p of problems) console.error(`    ${p}`);
  console.log(`\n${renderView(await fetchView(kubectl, controllers))}\n`);
  return problems.length === 0;
}

async function live(kubectl: Kubectl, info: ClusterInfo, op: Operator, where: string): Promise<void> {
  const header = [
    `arraycopy demo: kube-apiserver ${info.server}, operator ${where}. Ctrl-C stops and cleans up.`,
    `Meanwhile, in another terminal: export KUBECONFIG=${info.kubeconfig}; kubectl get arraycopy -A`,
  ].join("\n");
  const tty = process.stdout.isTTY;
  let last = "";
  while (!interrupted()) {
    try {
      const controllers = reconciledControllers((await getText(`${await op.url()}/metrics`)).body);
      const view = await fetchView(kubectl, controllers);
      if (tty) {
        process.stdout.write(`\x1b[H\x1b[2J${header}   ${view.at.toLocaleTimeString()}\n\n${renderView(view)}\n`);
      } else {
        // Without a terminal to redraw, print only changes (ages aside, so a quiet cluster prints nothing).
        const key = renderView({ ...view, at: new Date(0) });
        if (key !== last) console.log(`--- ${view.at.toISOString()}\n${renderView(view)}\n`);
        last = key;
      }
    } catch (e: unknown) {
      if (interrupted()) break;
      console.error(`cannot refresh the view: ${e instanceof Error ? e.message : String(e)}`);
    }
    await sleep(1_000, undefined, { signal: stop.signal }).catch(() => undefined);
  }
}

const usage = "usage: npm run demo [-- [--node] [--once [--timeout SECONDS]]]";

function options(): { once: boolean; timeoutS: number; node: boolean } | undefined {
  try {
    const { values } = parseArgs({
      options: {
        once: { type: "boolean", default: false },
        node: { type: "boolean", default: false },
        timeout: { type: "string", default: "180" },
        help: { type: "boolean", default: false },
      },
    });
    const timeoutS = Number(values.timeout);
    if (values.help || !Number.isInteger(timeoutS) || timeoutS < 1) return undefined;
    return { once: values.once, timeoutS, node: values.node };
  } catch {
    return undefined;
  }
}

const indent = (text: string) => text.trimEnd().replace(/^/gm, "    ");

/** The operator as a process of this host, on an engine whose volumes this process creates first. */
async function operatorOnHost(info: ClusterInfo, kubectl: Kubectl): Promise<OperatorProcess> {
  await step("Installing the CRDs", async () => {
    await ok(kubectl, ["apply", "--server-side", "--force-conflicts", "-f", crdsDir]);
    await ok(kubectl, ["wait", "--for=condition=Established", "--timeout=60s", "-f", crdsDir]);
  });
  await step(
    `Creating the array volumes postgres-data (64 MiB of data) and postgres-test in ${paths.data}`,
    async () => {
      rmSync(paths.data, { recursive: true, force: true });
      await createExampleVolumes(join(paths.data, exampleClass));
    },
  );
  return step(`Starting the operator (log: ${paths.operatorLog})`, () =>
    startOperatorProcess({
      kubeconfig: info.kubeconfig,
      dataDir: paths.data,
      logFile: paths.operatorLog,
      pidsFile: paths.pids,
      ownerPid: process.pid,
    }),
  );
}

/** examples/node/: its copies Ready and its PVCs Bound once the populator has written a copy into each. */
async function nodeExamples(kubectl: Kubectl, op: Operator, timeoutS: number): Promise<boolean> {
  const objects = exampleObjects(nodeExamplesDir);
  const problems = await waitConverged(kubectl, objects, await runningControllers(await op.url()), timeoutS);
  const claims = objects.filter((o) => o.kind === "PersistentVolumeClaim");
  const waits = await Promise.all(
    claims.map(async (c) => {
      const ns = ["-n", c.namespace ?? "default"];
      const res = await kubectl([
        "wait",
        "--for=jsonpath={.status.phase}=Bound",
        `--timeout=${timeoutS}s`,
        ...ns,
        `pvc/${c.name}`,
      ]);
      if (res.code !== 0) problems.push(`PVC ${c.name} is not Bound: ${res.stderr.trim()}`);
      return (await kubectl(["get", "pvc", c.name, ...ns, "-o", "wide"])).stdout;
    }),
  );
  for (const w of waits) console.log(indent(w));
  for (const p of problems) console.error(`    ${p}`);
  return problems.length === 0;
}

async function main(): Promise<number> {
  const opts = options();
  if (opts === undefined) {
    console.error(usage);
    return 2;
  }
  if (opts.node) {
    ensureNodePackages();
    const missing = missingForNode();
    if (missing.length > 0) {
      console.error(`demo --node needs a machine that can run containers; this one lacks:\n  ${missing.join("\n  ")}`);
      return 1;
    }
  }
  mkdirSync(stateDir, { recursive: true });
  // An operator a crashed earlier demo left (its watchdog normally stops it within seconds) must let go of the
  // data directory before it is recreated.
  await killRecorded(paths.pids, 10_000);
  const log = (l: string) => {
    console.log(`    ${l}`);
  };
  let info: ClusterInfo | undefined;
  let op: OperatorProcess | undefined;
  try {
    let operator: Operator;
    let where: string;
    let kubectl: Kubectl;
    if (opts.node) {
      const nodeInfo = await step(
        "Starting a one-node cluster (control plane, containerd, kubelet, CNI, provisioners)",
        () => startNodeCluster({ dir: paths.cluster, ownerPid: process.pid, log }),
      );
      info = nodeInfo;
      kubectl = kubectlFor(nodeInfo);
      const onNode = await installOnNode({ info: nodeInfo, kubectl, stateDir, signal: stop.signal, step, log });
      operator = onNode;
      where = onNode.where;
    } else {
      const cp = await step("Starting a local control plane (kube-apiserver + etcd on 127.0.0.1)", () =>
        startCluster({ dir: paths.cluster, ownerPid: process.pid, log }),
      );
      info = cp;
      kubectl = kubectlFor(cp);
      const started = await operatorOnHost(cp, kubectl);
      op = started;
      operator = { url: () => Promise.resolve(started.url) };
      where = `${started.url}/metrics`;
    }
    await step("kubectl apply -f examples/", async () => {
      console.log(indent(await ok(kubectl, ["apply", "-f", examplesDir])));
    });
    if (opts.node) {
      await step("kubectl apply -f examples/node/", async () => {
        console.log(indent(await ok(kubectl, ["apply", "-f", nodeExamplesDir])));
      });
    }
    if (opts.once) {
      const converged = await step("Waiting for the examples to converge", () =>
        converge(kubectl, operator, opts.timeoutS),
      );
      const restored = opts.node
        ? await step("Waiting for examples/node/ (a PVC made from a copy)", () =>
            nodeExamples(kubectl, operator, opts.timeoutS),
          )
        : true;
      return converged && restored ? 0 : 1;
    }
    await live(kubectl, info, operator, where);
    return 0;
  } catch (e: unknown) {
    if (e instanceof Interrupted || interrupted()) return 130;
    console.error(`demo failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  } finally {
    if (op !== undefined) {
      const exit = await op.stop();
      console.log(`==> Stopped the operator (exit ${exit.code ?? exit.signal ?? "?"} after ${exit.ms} ms)`);
    }
    const stopping = Date.now();
    // A short grace: stopCluster signals etcd and kube-apiserver together, and an apiserver that has lost its etcd
    // spends the whole grace period retrying it; this cluster's data is thrown away anyway. On a node, the
    // teardown also stops the kubelet, containerd and the pods, and removes the bridge, the nft table and cgroups.
    const n = await stopCluster(paths.cluster, 2_000);
    if (n > 0) {
      const what = opts.node ? "the node and the control plane" : "the control plane";
      console.log(`==> Stopped ${what} in ${((Date.now() - stopping) / 1000).toFixed(1)} s`);
    }
    const logs = [paths.operatorLog, join(paths.cluster, "kube-apiserver.log"), join(paths.cluster, "etcd.log")].filter(
      (f) => existsSync(f),
    );
    if (logs.length > 0) console.log(`Logs: ${logs.join(", ")}`);
  }
}

// Output into a pipe that has closed (`npm run demo | head`, then Ctrl-C) must not end the process halfway through
// its cleanup, which would leave the control plane running: what cannot be written any more is dropped.
for (const stream of [process.stdout, process.stderr]) {
  stream.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code !== "EPIPE" && e.code !== "ERR_STREAM_DESTROYED") throw e;
  });
}

let signals = 0;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, () => {
    signals += 1;
    if (signals > 1) {
      // A second Ctrl-C: leave now; the watchdogs stop the operator and the control plane within seconds.
      process.exit(130);
    }
    console.log(`\n${sig}: stopping the operator and the control plane…`);
    stop.abort();
  });
}
process.exitCode = await main();
