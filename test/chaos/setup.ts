// Vitest global setup for the chaos project: a control plane of its own (never the integration project's shared
// one), because the chaos suite restarts kube-apiserver and etcd. Test files reach it through `inject("cluster")`,
// so the test/support helpers work unchanged.
import type { TestProject } from "vitest/node";
import { endRun, runDir } from "../../hack/control-plane/run-dir.ts";
import { startCluster } from "../../hack/control-plane/cluster.ts";

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await runDir("chaos-clusters", process.env.ARRAYCOPY_CHAOS_CLUSTER_DIR);
  const info = await startCluster({ dir, ownerPid: process.pid });
  project.provide("cluster", info);
  return async () => {
    await endRun(dir, process.env.ARRAYCOPY_CHAOS_CLUSTER_DIR);
  };
}
