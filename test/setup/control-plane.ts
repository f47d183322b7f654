// Vitest global setup for the integration project: one real control plane per test run, in a fixed directory
// under the cache so that a crashed earlier run is reaped by the next (and, while running, a watchdog stops it
// if this process dies). Test files reach it through `inject("cluster")`.
import { join } from "node:path";
import { homedir } from "node:os";
import type { TestProject } from "vitest/node";
import { startCluster, stopCluster, type ClusterInfo } from "../../hack/control-plane/cluster.ts";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
  }
}

const dir =
  process.env.ARRAYCOPY_TEST_CLUSTER_DIR ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "arraycopy", "test-cluster");

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const info = await startCluster({ dir, ownerPid: process.pid });
  project.provide("cluster", info);
  return async () => {
    await stopCluster(dir);
  };
}
