// The process the crash tests kill: opens an embedded engine on the directory given and drives one scenario,
// printing a line after each acknowledged step (pipes to the parent are synchronous on Linux, so a printed line
// means the step was acknowledged before the kill). Scenarios:
// - random: writes, virtual copies, physical copies and resyncs in a loop, until killed at a random instant;
// - mid-copy / mid-resync / mid-restore: takes a virtual copy "pit" of what the job copies at the instant the job
//   is asked for, writes over the source once the job runs, and prints "progress <job> <percent>" at each progress
//   (the parent kills at the percent it wants);
// - reopen: opens an earlier run's directory and prints the progress of the job it resumes.
// The engine flushes and checkpoints running copies every 4 MiB (not 256 MiB), so a kill lands after checkpoints.
import { writeSync } from "node:fs";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import type { Engine, VolumeOps } from "../../operator/src/engine/port.ts";
import { block, MiB, owner, pattern, volumesOf, waitForJob } from "./helpers.ts";

export const randomVolumeBytes = 32 * MiB;
export const bigVolumeBytes = 256 * MiB;
export const randomBlocks = randomVolumeBytes / block;

/** Where the random scenario's write number i lands. */
export function randomWrite(i: number): { offset: number; data: Buffer } {
  return { offset: ((i * 37) % randomBlocks) * block, data: pattern(i + 1, block) };
}

function say(line: string): void {
  writeSync(1, `${line}\n`);
}

async function fill(v: VolumeOps, name: string, size: number, seed: number): Promise<void> {
  for (let at = 0; at < size; at += 8 * MiB)
    await v.writeVolume(name, at, Buffer.alloc(8 * MiB, (seed + at / MiB) & 0xff));
}

export const checkpointBytes = 4 * MiB;

function sayProgress(engine: Engine): void {
  engine.subscribe((i) => {
    if (i.kind === "Progress") say(`progress ${i.job.id} ${i.job.percentComplete}`);
  });
}

/** A point-in-time image of `volume` to compare the job's result with. */
async function pit(engine: Engine, volume: string): Promise<void> {
  await engine.createVirtualCopy({ name: "pit", source: volume, readOnly: true, owner: owner("pit") });
}

async function randomScenario(engine: Engine, v: VolumeOps): Promise<void> {
  await v.createVolume("base", randomVolumeBytes);
  say("ready");
  let copies = 0;
  for (let i = 0; ; i++) {
    const w = randomWrite(i);
    await v.writeVolume("base", w.offset, w.data);
    say(`W ${i}`);
    const gen = i + 1;
    if (gen % 5 === 0) {
      await engine.createVirtualCopy({ name: `s${gen}`, source: "base", readOnly: true, owner: owner() });
      say(`S s${gen} ${gen}`);
    }
    if (gen % 7 === 0 && copies < 6) {
      const name = `p${copies++}`;
      await v.createVolume(name, randomVolumeBytes);
      const { job } = await engine.createPhysicalCopy({
        name,
        source: "base",
        online: false,
        saveSnapshot: true,
        owner: owner(name),
      });
      say(`J ${job.id} ${gen}`);
    }
    if (gen % 11 === 0 && copies > 0) {
      const name = `p${gen % copies}`;
      const seen = await engine.observeCopy(name);
      if (seen?.synchronization?.syncState === "Frozen") {
        const job = await engine.startJob({ copy: name, owner: owner(name), operation: "Resync" });
        say(`J ${job.id} ${gen}`);
      }
    }
  }
}

async function main(): Promise<void> {
  const [dir, scenario] = process.argv.slice(2);
  if (dir === undefined || scenario === undefined) throw new Error("usage: crash-child <dir> <scenario>");
  // The catalog's journal is folded into a new image whenever it outgrows the image, so kills land around
  // compactions too (the parent checks that some happened).
  const engine = await openEmbeddedEngine({ dataDir: dir, flushBytes: checkpointBytes, compactBytes: 1024 });
  const v = volumesOf(engine);
  switch (scenario) {
    case "random":
      return randomScenario(engine, v);
    case "mid-copy":
    case "mid-unassociated-copy": {
      await v.createVolume("src", bigVolumeBytes);
      await v.createVolume("dst", bigVolumeBytes);
      await fill(v, "src", bigVolumeBytes, 1);
      sayProgress(engine);
      await pit(engine, "src");
      await engine.createPhysicalCopy({
        name: "dst",
        source: "src",
        online: false,
        saveSnapshot: scenario === "mid-copy",
        owner: owner(),
      });
      await fill(v, "src", 16 * MiB, 3);
      break;
    }
    case "mid-resync": {
      await v.createVolume("src", bigVolumeBytes);
      await v.createVolume("dst", bigVolumeBytes);
      await fill(v, "src", bigVolumeBytes, 1);
      const { job } = await engine.createPhysicalCopy({
        name: "dst",
        source: "src",
        online: false,
        saveSnapshot: true,
        owner: owner(),
      });
      await waitForJob(engine, job.id);
      await fill(v, "src", bigVolumeBytes, 2);
      sayProgress(engine);
      await pit(engine, "src");
      await engine.startJob({ copy: "dst", owner: owner(), operation: "Resync" });
      await fill(v, "src", 16 * MiB, 3);
      break;
    }
    case "mid-restore": {
      await v.createVolume("base", bigVolumeBytes);
      await fill(v, "base", bigVolumeBytes, 1);
      await engine.createVirtualCopy({ name: "snap", source: "base", readOnly: true, owner: owner() });
      await fill(v, "base", bigVolumeBytes, 2);
      sayProgress(engine);
      await engine.startJob({ copy: "snap", owner: owner(), operation: "Restore" });
      break;
    }
    case "reopen":
      // The directory of an earlier run: the engine resumes its job at open; its progress is printed.
      sayProgress(engine);
      break;
    case "concurrent-virtual-copies": {
      // Creates 32 at a time, so their catalog writes are group-committed; prints "V <name>" as each is acknowledged.
      await v.createVolume("base", 1 << 20);
      let next = 0;
      await Promise.all(
        Array.from({ length: 32 }, async () => {
          for (let i = next++; i < 100_000; i = next++) {
            await engine.createVirtualCopy({ name: `v${String(i)}`, source: "base", readOnly: true, owner: owner() });
            say(`V v${String(i)}`);
          }
        }),
      );
      break;
    }
    default:
      throw new Error(`unknown scenario ${scenario}`);
  }
  say("started");
  // Stay alive until killed; the job runs in the background.
  setInterval(() => undefined, 1000);
}

if (process.argv[1]?.endsWith("crash-child.ts") === true) {
  main().catch((e: unknown) => {
    say(`error ${e instanceof Error ? e.message : String(e)}`);
    process.exit(1);
  });
}
