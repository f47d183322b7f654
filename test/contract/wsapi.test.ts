// Runs the engine contract against the wsapi driver talking HTTPS to the test array (test/wsapi-server), which
// keeps its data in an embedded engine with the suite's movable clock. The driver verifies the test array's
// self-signed certificate through caBundle. Reading and writing volume data goes to the test array's engine
// directly (WSAPI has no data path): that data path is test-only.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { EngineError } from "../../operator/src/engine/errors.ts";
import { openWsapiEngine } from "../../operator/src/engine/wsapi/engine.ts";
import { wsapiVolumes, type DataPath } from "../../operator/src/engine/wsapi/volumes.ts";
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { startTestArray } from "../wsapi-server/server.ts";
import { engineContract } from "./engine-contract.ts";
import { TestClock } from "./helpers.ts";

/** The test array's data, with the engine's own "cannot …" context taken off (the driver adds its own). */
function dataPath(engine: EmbeddedEngine): DataPath {
  const inner = (e: unknown): Error => {
    if (e instanceof EngineError && e.cause instanceof EngineError) return e.cause;
    return e instanceof Error ? e : new Error(String(e));
  };
  return {
    read: (name, offset, length) => engine.readVolume(name, offset, length).catch((e: unknown) => Promise.reject(inner(e))),
    write: (name, offset, data) => engine.writeVolume(name, offset, data).catch((e: unknown) => Promise.reject(inner(e))),
  };
}

engineContract("wsapi (test array)", async () => {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-wsapi-"));
  const clock = new TestClock();
  const backing = await openEmbeddedEngine({ dataDir: dir, clock, expiryIntervalMs: 0 });
  const array = await startTestArray({ engine: backing, clock });
  const engine = openWsapiEngine({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    caBundle: array.ca,
    cpg: "FC_r6",
    pollIntervalMs: 20,
    volumes: (api) => wsapiVolumes(api, "FC_r6", undefined, dataPath(backing)),
  });
  return {
    engine,
    clock,
    remote: true,
    dispose: async () => {
      await engine.close();
      await array.close();
      await backing.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
