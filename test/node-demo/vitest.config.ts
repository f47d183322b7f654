import { join } from "node:path";
import { defineConfig } from "vitest/config";

// The second half of `npm run test:node`: `npm run demo -- --node --once` as a user runs it, with a node cluster of
// its own. It runs after test/node's suite, whose global setup holds a node for the whole run, so that the two
// nodes never share the machine's two cores.
export default defineConfig({
  root: join(import.meta.dirname, "..", ".."),
  test: {
    name: "node-demo",
    include: ["test/node-demo/**/*.test.ts"],
    testTimeout: 900_000,
    reporters: ["default"],
  },
});
