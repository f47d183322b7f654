// Benchmarks of the embedded engine (not tests): each figure is the median of several runs, printed beside a
// baseline measured in the same run on the same disk. `npm run bench:engine [-- --quick]`.
// Physical copies are timed from the create call to the Finished indication, which comes after the target's data
// and block map are fsynced; `cp --sparse=always` is timed alone (page cache) and followed by `sync FILE` (durable).
import { execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { openEmbeddedEngine, type EmbeddedEngine } from "../operator/src/engine/embedded/engine.ts";
import type { Engine } from "../operator/src/engine/port.ts";
import { writeResults } from "./results.ts";

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const quick = process.argv.includes("--quick");
const runs = quick ? 3 : 5;
const owner = { namespace: "bench", name: "bench", uid: "bench" };

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

async function timed(f: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await f();
  return performance.now() - t;
}

async function medianOf(n: number, f: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < n; i++) xs.push(await f());
  return median(xs);
}

function finished(engine: Engine, id: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const check = (): void => {
      engine.observeJob(id).then((j) => {
        if (j?.endTime === undefined) return;
        stop();
        if (j.jobState === "Completed") resolve();
        else reject(new Error(`job ${id} ended ${j.jobState}: ${j.errorDescription}`));
      }, reject);
    };
    const stop = engine.subscribe((i) => {
      if (i.kind === "Finished" && i.job.id === id) check();
    });
    check();
  });
}

async function fill(engine: EmbeddedEngine, name: string, at: number, length: number): Promise<void> {
  const chunk = randomBytes(64 * MiB);
  for (let done = 0; done < length; done += chunk.length) {
    chunk.writeUInt32LE(done / MiB, 0);
    await engine.writeVolume(name, at + done, chunk.subarray(0, Math.min(chunk.length, length - done)));
  }
}

/** A physical copy onto a fresh destination, timed to its Finished indication; returns ms. */
async function physicalCopy(
  engine: EmbeddedEngine,
  source: string,
  size: number,
  saveSnapshot = false,
): Promise<number> {
  await engine.createVolume("dst", size);
  const ms = await timed(async () => {
    const { job } = await engine.createPhysicalCopy({ name: "dst", source, online: false, saveSnapshot, owner });
    await finished(engine, job.id);
  });
  if (!saveSnapshot) await engine.deleteVolume("dst");
  return ms;
}

async function dataFile(dir: string, engine: EmbeddedEngine, name: string): Promise<string> {
  const before = new Set((await engine.listVolumes()).map((v) => v.name));
  if (!before.has(name)) throw new Error(`no volume ${name}`);
  // The engine names data files by node id; the largest file is the one we filled.
  const files = await readdir(join(dir, "vols"));
  let best = "";
  let bestSize = -1;
  for (const f of files.filter((x) => x.endsWith(".data"))) {
    const size = (await stat(join(dir, "vols", f))).size;
    if (size > bestSize) [best, bestSize] = [f, size];
  }
  return join(dir, "vols", best);
}

function cp(from: string, to: string, durable: boolean): Promise<number> {
  return timed(() => {
    execFileSync("cp", ["--sparse=always", from, to]);
    if (durable) execFileSync("sync", [to]);
    return Promise.resolve();
  }).finally(() => {
    execFileSync("rm", ["-f", to]);
  });
}

/** Every line printed, for bench/results/engine.json. */
const rows: { what: string; value: string; baseline: string; verdict: string }[] = [];

function line(what: string, value: string, baseline: string, verdict: string): void {
  rows.push({ what, value, baseline, verdict });
  console.log(`${what.padEnd(58)} ${value.padStart(14)}   ${baseline.padEnd(44)} ${verdict}`);
}

const rate = (bytes: number, ms: number): string => `${(bytes / MiB / (ms / 1000)).toFixed(0)} MiB/s`;

async function main(): Promise<void> {
  const root = await mkdtemp(join(tmpdir(), "arraycopy-bench-"));
  const dir = join(root, "engine");
  const engine = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
  console.log(`embedded engine benchmarks, ${runs} runs each, medians; data in ${root}\n`);
  try {
    // 1. Physical copy of a 2 GiB volume vs cp --sparse=always.
    const dense = quick ? 512 * MiB : 2 * GiB;
    await engine.createVolume("dense", dense);
    await fill(engine, "dense", 0, dense);
    const denseFile = await dataFile(dir, engine, "dense");
    const copyMs = await medianOf(runs, () => physicalCopy(engine, "dense", dense));
    const cpMs = await medianOf(runs, () => cp(denseFile, join(root, "cp.out"), false));
    const cpSyncMs = await medianOf(runs, () => cp(denseFile, join(root, "cp.out"), true));
    const label = `${dense / MiB} MiB`;
    line(
      `physical copy, ${label} full`,
      rate(dense, copyMs),
      `cp ${rate(dense, cpMs)}, cp+sync ${rate(dense, cpSyncMs)}`,
      `${(cpMs / copyMs).toFixed(2)}× cp, ${(cpSyncMs / copyMs).toFixed(2)}× cp+sync (goal ≥ 0.9×)`,
    );

    // 2. A 64 GiB sparse volume holding 1 GiB, vs copying a dense 1 GiB volume.
    const sparseSize = 64 * GiB;
    const held = quick ? 256 * MiB : GiB;
    await engine.createVolume("sparse", sparseSize);
    const extent = 16 * MiB;
    const extents = held / extent;
    for (let i = 0; i < extents; i++) await fill(engine, "sparse", i * (sparseSize / extents), extent);
    await engine.createVolume("one", held);
    await fill(engine, "one", 0, held);
    const sparseMs = await medianOf(runs, () => physicalCopy(engine, "sparse", sparseSize));
    const oneMs = await medianOf(runs, () => physicalCopy(engine, "one", held));
    line(
      `physical copy, 64 GiB sparse holding ${held / MiB} MiB`,
      `${sparseMs.toFixed(0)} ms`,
      `dense ${held / MiB} MiB copy ${oneMs.toFixed(0)} ms`,
      `${(sparseMs / oneMs).toFixed(2)}× (goal ≤ 1.5×)`,
    );

    // 3. Virtual copy creation at 1 GiB and 64 GiB.
    const create = async (source: string): Promise<number> => {
      const ms: number[] = [];
      for (let i = 0; i < 25; i++) {
        ms.push(await timed(() => engine.createVirtualCopy({ name: `vc${i}`, source, readOnly: true, owner })));
      }
      for (let i = 24; i >= 0; i--) await engine.deleteCopy({ name: `vc${i}`, owner });
      return median(ms);
    };
    const vc1 = await create("one");
    const vc64 = await create("sparse");
    line(
      "virtual copy creation, 1 GiB / 64 GiB source",
      `${vc1.toFixed(2)} / ${vc64.toFixed(2)} ms`,
      "flat across sizes",
      `${Math.max(vc1, vc64) <= 10 ? "meets" : "misses"} ≤ 10 ms`,
    );

    // 4. Resync after changing 1% of blocks vs the full copy.
    // The baseline is item 1's median full copy of the same volume; this one only sets up the association.
    await physicalCopy(engine, "dense", dense, true);
    const blocks = dense / (64 * 1024);
    const resyncMs = await medianOf(runs, async () => {
      const change = randomBytes(64 * 1024);
      for (let i = 0; i < blocks / 100; i++) {
        const b = Math.floor(Math.random() * blocks);
        await engine.writeVolume("dense", b * 64 * 1024, change);
      }
      return timed(async () => {
        const job = await engine.startJob({ copy: "dst", owner, operation: "Resync" });
        await finished(engine, job.id);
      });
    });
    line(
      "resync after changing 1% of blocks",
      `${resyncMs.toFixed(0)} ms`,
      `full copy ${copyMs.toFixed(0)} ms`,
      `${((100 * resyncMs) / copyMs).toFixed(1)}% (goal ≤ 5%)`,
    );
    await engine.startJob({ copy: "dst", owner, operation: "Detach" });
    await engine.deleteVolume("dst");

    // 5. First write to a block after a snapshot vs a plain write (64 KiB, aligned, durable; blocks already held).
    const writes = 200;
    const data = randomBytes(64 * 1024);
    const writeAll = async (offsetBlock: number): Promise<number> => {
      const ms: number[] = [];
      for (let i = 0; i < writes; i++)
        ms.push(await timed(() => engine.writeVolume("one", (offsetBlock + i) * 64 * 1024, data)));
      return median(ms);
    };
    // Paired rounds, plain then first writes, so that the disk's fsync latency, which drifts by the minute on a
    // shared machine, weighs on both halves of a pair alike; the figure is the median of the pairs' ratios.
    const pairs: { plain: number; first: number }[] = [];
    for (let r = 0; r < 7; r++) {
      const plainMs = await writeAll(0);
      await engine.createVirtualCopy({ name: "cow", source: "one", readOnly: true, owner });
      const firstMs = await writeAll(1000);
      await engine.deleteCopy({ name: "cow", owner });
      pairs.push({ plain: plainMs, first: firstMs });
    }
    const plain = median(pairs.map((p) => p.plain));
    const firstAfter = median(pairs.map((p) => p.first));
    const ratios = pairs.map((p) => p.first / p.plain);
    line(
      "first 64 KiB write after a snapshot",
      `${firstAfter.toFixed(3)} ms`,
      `plain write ${plain.toFixed(3)} ms`,
      `${median(ratios).toFixed(2)}× (median of 7 paired rounds: ` +
        `${ratios.map((x) => x.toFixed(2)).join(", ")}; goal ≤ 2×)`,
    );

    // 6. 20 physical copies of one volume submitted at once, through the two-at-a-time queue, to the last Finished
    // indication; baseline: cp of the same data file onto 20 distinct files, then one sync (all durable at the end).
    // The operator benchmark (--physical 20) runs the same 20 copies through PhysicalCopies.
    const count = 20;
    const each = quick ? 64 * MiB : 256 * MiB;
    await engine.createVolume("batch-src", each);
    await fill(engine, "batch-src", 0, each);
    // cp copies a plain file of as many random bytes (the volume's data file is not the largest one here).
    const batchFile = join(root, "batch-src.bin");
    await writeFile(batchFile, randomBytes(each));
    const batch = async (): Promise<number> => {
      for (let i = 0; i < count; i++) await engine.createVolume(`batch-${String(i)}`, each);
      const ms = await timed(async () => {
        const ids: string[] = [];
        for (let i = 0; i < count; i++) {
          ids.push(
            (
              await engine.createPhysicalCopy({
                name: `batch-${String(i)}`,
                source: "batch-src",
                online: false,
                saveSnapshot: true,
                owner,
              })
            ).job.id,
          );
        }
        for (const id of ids) await finished(engine, id);
      });
      for (let i = 0; i < count; i++) {
        await engine.startJob({ copy: `batch-${String(i)}`, owner, operation: "Detach" });
        await engine.deleteVolume(`batch-${String(i)}`);
      }
      return ms;
    };
    const cpBatch = (): Promise<number> => {
      execFileSync("sync");
      const targets = Array.from({ length: count }, (_, i) => join(root, `cp-batch-${String(i)}`));
      return timed(() => {
        for (const t of targets) execFileSync("cp", ["--sparse=always", batchFile, t]);
        execFileSync("sync");
        return Promise.resolve();
      }).finally(() => {
        execFileSync("rm", ["-f", ...targets]);
      });
    };
    const batchMs = await medianOf(3, batch);
    const cpBatchMs = await medianOf(3, cpBatch);
    line(
      `${String(count)} physical copies of ${String(each / MiB)} MiB, 2 at a time`,
      rate(count * each, batchMs),
      `cp to ${String(count)} files + sync ${rate(count * each, cpBatchMs)}`,
      `${(cpBatchMs / batchMs).toFixed(2)}× cp+sync`,
    );
    console.log(`\nfigures written to ${writeResults("engine", { runs, quick, rows })}`);
  } finally {
    await engine.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
