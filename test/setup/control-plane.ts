// Vitest global setup for the integration project: one real control plane per test run, in a directory of the
// run's own (hack/control-plane/run-dir.ts: two runs at once never share or reap each other's; a watchdog stops it
// if this process dies). Test files reach it through `inject("cluster")`.
import type { TestProject } from "vitest/node";
import { endRun, runDir } from "../../hack/control-plane/run-dir.ts";
import { startCluster, type ClusterInfo } from "../../hack/control-plane/cluster.ts";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await runDir("test-clusters", process.env.ARRAYCOPY_TEST_CLUSTER_DIR);
  const info = await startCluster({ dir, ownerPid: process.pid });
  project.provide("cluster", info);
  return async () => {
    await endRun(dir, process.env.ARRAYCOPY_TEST_CLUSTER_DIR);
  };
}
