// Runs the engine contract against the embedded engine, each test in a fresh data directory.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { engineContract } from "./engine-contract.ts";
import { TestClock } from "./helpers.ts";

engineContract("embedded", async () => {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-contract-"));
  const clock = new TestClock();
  const engine = await openEmbeddedEngine({ dataDir: dir, clock, expiryIntervalMs: 0, verifyCatalog: true });
  return {
    engine,
    clock,
    dispose: async () => {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
