// Global setup of `npm run test:node`: installs the Debian packages the node needs (as root), says what is still
// missing on a machine that cannot run containers (and fails), else starts a one-node cluster in a directory of the
// run's own (hack/control-plane/run-dir.ts; a watchdog tears it down if this process dies), builds the operator's
// image from the Dockerfile and imports it into the node, and builds helm. Test files reach all of it through
// `inject`.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { endRun, runDir } from "../../hack/control-plane/run-dir.ts";
import { ensureBinaries, ensureNodePackages } from "../../hack/control-plane/binaries.ts";
import type { ClusterInfo } from "../../hack/control-plane/cluster.ts";
import { missingForNode } from "../../hack/control-plane/node-host.ts";
import { startNodeCluster, type NodeClusterInfo } from "../../hack/control-plane/node.ts";

declare module "vitest" {
  export interface ProvidedContext {
    cluster: ClusterInfo;
    nodeCluster: NodeClusterInfo;
    helm: string;
    image: { repository: string; tag: string; archive: string };
  }
}

const repoRoot = join(import.meta.dirname, "..", "..");
const image = { repository: "localhost/arraycopy/operator", tag: "node-test" };

export async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = await runDir("node-test-clusters", process.env.ARRAYCOPY_NODE_TEST_CLUSTER_DIR);
  ensureNodePackages();
  const missing = missingForNode();
  if (missing.length > 0) {
    throw new Error(`test:node needs a machine that can run containers; this one lacks:\n  ${missing.join("\n  ")}`);
  }
  const t0 = Date.now();
  const info = await startNodeCluster({ dir, ownerPid: process.pid });
  const tNode = Date.now();
  const built = spawnSync("bash", [join(repoRoot, "hack", "image.sh")], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
    env: { ...process.env, ARRAYCOPY_CLUSTER_DIR: dir, ARRAYCOPY_IMAGE: `${image.repository}:${image.tag}` },
  });
  if (built.status !== 0) throw new Error(`npm run image failed (exit ${built.status ?? built.signal ?? "?"})`);
  const archive = built.stdout.trim().split("\n").pop() ?? "";
  const tImage = Date.now();
  const helm = join(ensureBinaries({ helm: true }), "helm");
  process.stderr.write(
    `[test:node] node up in ${(tNode - t0) / 1000} s, image built and imported in ${(tImage - tNode) / 1000} s\n`,
  );
  project.provide("cluster", info);
  project.provide("nodeCluster", info);
  project.provide("helm", helm);
  project.provide("image", { ...image, archive });
  return async () => {
    await endRun(dir, process.env.ARRAYCOPY_NODE_TEST_CLUSTER_DIR);
  };
}
