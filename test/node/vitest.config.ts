import { join } from "node:path";
import { defineConfig } from "vitest/config";

// `npm run test:node`: the chart's pods on a real one-node cluster (kubelet, containerd, runc), with the image
// built from the Dockerfile. A configuration of its own so that `npm test` stays as fast as it is: this suite
// builds the node's binaries and the image on first use and starts a node of its own (docs/node.md).
export default defineConfig({
  root: join(import.meta.dirname, "..", ".."),
  test: {
    name: "node",
    include: ["test/node/**/*.test.ts"],
    globalSetup: ["test/node/setup.ts"],
    testTimeout: 300_000,
    hookTimeout: 600_000,
    fileParallelism: false,
    reporters: ["default"],
  },
});
