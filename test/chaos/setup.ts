// Vitest global setup for the chaos project: a control plane of its own (never the integration project's shared
// one), because the chaos suite restarts kube-apiserver and etcd. Test files reach it through `inject("cluster")`,
// so the test/support helpers work unchanged.
import { join } from "node:path";
import { homedir } from "node:os";
import type { TestProject } from "vitest/node";
import { startCluster, stopCluster } from "../../hack/control-plane/cluster.ts";

const dir =
  process.env.ARRAYCOPY_CHAOS_CLUSTER_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "arraycopy", "chaos-cluster");

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const info = await startCluster({ dir, ownerPid: process.pid });
  project.provide("cluster", info);
  return async () => {
    await stopCluster(dir);
  };
}
