// The registry builds one engine per class generation and, for wsapi classes, a new one when the class's Secret
// holds other credentials, read at most once per recheck interval (never per call).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { EngineRegistry, type ClassForEngine } from "./registry.ts";

const wsapiClass = (generation = 1): ClassForEngine => ({
  name: "array",
  generation,
  spec: {
    driver: "wsapi",
    wsapi: {
      endpoint: "https://127.0.0.1:1/api/v1",
      credentialsSecretRef: { name: "creds", namespace: "ops" },
      cpg: "FC_r6",
      insecureSkipTLSVerify: false,
    },
  },
});

function setUp(): {
  registry: EngineRegistry;
  secret: Record<string, string>;
  reads: () => number;
  advance: (ms: number) => void;
} {
  let t = 1_000_000;
  let reads = 0;
  const secret: Record<string, string> = { username: "3paradm", password: "old" };
  const registry = new EngineRegistry({
    dataDir: mkdtempSync(join(tmpdir(), "registry-")),
    readSecret: () => {
      reads++;
      return Promise.resolve({ ...secret });
    },
    credentialsRecheckMs: 30_000,
    now: () => t,
  });
  return { registry, secret, reads: () => reads, advance: (ms) => (t += ms) };
}

describe("EngineRegistry", () => {
  it(
    "reuses the engine while the class and its Secret stay the same, " + "reading the Secret once per interval",
    async () => {
      const { registry, reads, advance } = setUp();
      const first = await registry.engineFor(wsapiClass());
      for (let i = 0; i < 50; i++) expect(await registry.engineFor(wsapiClass())).toBe(first);
      expect(reads()).toBe(1);
      advance(30_001);
      await Promise.all(Array.from({ length: 10 }, () => registry.engineFor(wsapiClass())));
      expect(reads()).toBe(2);
      expect(await registry.engineFor(wsapiClass())).toBe(first);
      await registry.close();
    },
  );

  it("builds a new engine once the Secret's credentials change, and one for a new class generation", async () => {
    const { registry, secret, advance } = setUp();
    const first = await registry.engineFor(wsapiClass());
    secret.password = "new";
    expect(await registry.engineFor(wsapiClass())).toBe(first); // not noticed before the interval
    advance(30_001);
    const [a, b] = await Promise.all([registry.engineFor(wsapiClass()), registry.engineFor(wsapiClass())]);
    expect(a).not.toBe(first);
    expect(b).toBe(a);
    const next = await registry.engineFor(wsapiClass(2));
    expect(next).not.toBe(a);
    await registry.close();
  });
});
