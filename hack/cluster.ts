// `npm run cluster -- up [--node]|down|status|env`: a local control plane for people (the tests start their own).
//   up      build (first time) and start etcd + kube-apiserver; print the kubeconfig path
//   up --node  the same plus kube-controller-manager, kube-scheduler, containerd and a kubelet: a one-node cluster
//           whose pods run (root, cgroups; docs/node.md)
//   down    stop it (process groups recorded at start)
//   status  say whether it runs and where
//   env     print `export KUBECONFIG=...` for eval
import { homedir } from "node:os";
import { join } from "node:path";
import { readCluster, startCluster, stopCluster } from "./control-plane/cluster.ts";
import { ensureNodePackages } from "./control-plane/binaries.ts";
import { missingForNode } from "./control-plane/node-host.ts";
import { startNodeCluster } from "./control-plane/node.ts";

export const defaultClusterDir =
  process.env.ARRAYCOPY_CLUSTER_DIR ??
  join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "arraycopy", "cluster");

async function main(cmd: string | undefined, flags: readonly string[]): Promise<number> {
  const dir = defaultClusterDir;
  switch (cmd ?? "") {
    case "up": {
      if (flags.includes("--node")) {
        ensureNodePackages();
        const missing = missingForNode();
        if (missing.length > 0) {
          console.error(`cannot run a node on this machine; missing:\n  ${missing.join("\n  ")}`);
          return 1;
        }
        const info = await startNodeCluster({ dir });
        console.log(`kube-apiserver: ${info.server}`);
        console.log(`node:           ${info.node.name} Ready at ${info.node.address}, pods on ${info.node.podCidr}`);
        console.log(`containerd:     ${info.node.containerdSocket}`);
        console.log(`kubeconfig:     ${info.kubeconfig}`);
        console.log(`kubectl:        ${info.kubectl}`);
        console.log(`up in:          ${(info.node.timings.totalMs ?? 0) / 1000} s`);
        console.log(`\nexport KUBECONFIG=${info.kubeconfig}`);
        return 0;
      }
      const info = await startCluster({ dir });
      console.log(`kube-apiserver: ${info.server}`);
      console.log(`kubeconfig:     ${info.kubeconfig}`);
      console.log(`kubectl:        ${info.kubectl}`);
      console.log(`\nexport KUBECONFIG=${info.kubeconfig}`);
      return 0;
    }
    case "down": {
      const n = await stopCluster(dir);
      console.log(n > 0 ? `stopped ${n} processes` : "no local control plane was running");
      return 0;
    }
    case "status": {
      const info = readCluster(dir);
      console.log(info === undefined ? "not running" : `${info.server} (kubeconfig ${info.kubeconfig})`);
      return 0;
    }
    case "env": {
      const info = readCluster(dir);
      if (info === undefined) return 1;
      console.log(`export KUBECONFIG=${info.kubeconfig}`);
      return 0;
    }
    default:
      console.error("usage: npm run cluster -- up [--node]|down|status|env");
      return 2;
  }
}

process.exitCode = await main(process.argv[2], process.argv.slice(3));
