import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine } from "./engine.ts";

const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

const owner = { namespace: "ns", name: "vc", uid: "uid-1" };

describe("group-committed catalog writes", () => {
  it(
    "interleave creates (answered after their write) with operations that save under the lock, and reopen " +
      "with the last state",
    async () => {
      const dir = await mkdtemp(join(tmpdir(), "arraycopy-catalog-"));
      dirs.push(dir);
      const engine = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
      await engine.createVolume("base", 1 << 20);
      // Creates defer their write and release the lock; volume creates and copy deletes save holding it. A writer
      // waiting for the lock while a holder waits for the writer would hang here (and time the test out).
      const ops: Promise<unknown>[] = [];
      for (let i = 0; i < 300; i++) {
        ops.push(engine.createVirtualCopy({ name: `v${String(i)}`, source: "base", readOnly: true, owner }));
        if (i % 10 === 0) ops.push(engine.createVolume(`x${String(i)}`, 1 << 20));
        if (i % 20 === 5)
          ops.push(
            Promise.resolve(ops[ops.length - 1]).then(() => engine.deleteCopy({ name: `v${String(i - 5)}`, owner })),
          );
      }
      await Promise.all(ops);
      const deleted = new Set(Array.from({ length: 15 }, (_, k) => `v${String(k * 20)}`));
      const want = Array.from({ length: 300 }, (_, i) => `v${String(i)}`)
        .filter((n) => !deleted.has(n))
        .sort();
      expect((await engine.listCopies()).map((c) => c.name).sort()).toEqual(want);
      await engine.close();

      const reopened = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
      try {
        expect((await reopened.listCopies()).map((c) => c.name).sort()).toEqual(want);
        expect((await reopened.listVolumes()).filter((v) => v.name.startsWith("x"))).toHaveLength(30);
      } finally {
        await reopened.close();
      }
    },
  );
});
