// Crash tests: a child process (crash-child.ts) is killed with SIGKILL mid-copy, mid-resync, mid-restore, or at
// random instants of a workload mixing writes, virtual copies, physical copies and resyncs; the engine reopened
// on its directory must be consistent: every acknowledged virtual copy holds exactly its point in time, a job that
// was running is still Running and goes on from its last checkpoint (not from the start) to Completed, and then its
// copy (or restored base) holds exactly its point in time; queued jobs run to completion. The kill instants are
// random; the checks hold whatever they are.
import { spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import type { JobObservation } from "../../operator/src/engine/port.ts";
import { bigVolumeBytes, randomVolumeBytes, randomWrite } from "./crash-child.ts";
import { block, sameBytes, waitForJob } from "./helpers.ts";

const child = join(import.meta.dirname, "crash-child.ts");
const dirs: string[] = [];
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

/** Runs the child until `killWhen` says so (or it exits), then SIGKILLs it; returns every line it printed. */
async function runAndKill(
  dir: string,
  scenario: string,
  killWhen: (line: string, lines: string[]) => boolean,
): Promise<string[]> {
  const proc = spawn(process.execPath, [child, dir, scenario], { stdio: ["ignore", "pipe", "inherit"] });
  const lines: string[] = [];
  const exited = new Promise<void>((resolve) =>
    proc.on("exit", () => {
      resolve();
    }),
  );
  for await (const line of createInterface({ input: proc.stdout })) {
    lines.push(line);
    if (line.startsWith("error")) throw new Error(`child failed: ${line}`);
    if (killWhen(line, lines)) {
      proc.kill("SIGKILL");
      break;
    }
  }
  await exited;
  return lines;
}

async function freshDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-crash-"));
  dirs.push(dir);
  return dir;
}

async function reopen(dir: string): Promise<EmbeddedEngine> {
  return openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
}

/** The percent a job had reached when the child printed it ("progress <job> <percent>"). */
/** How many times the catalog was compacted into a new image (the image names its journal's generation). */
async function catalogGeneration(dir: string): Promise<number> {
  const image = JSON.parse(await readFile(join(dir, "meta.json"), "utf8")) as { journal?: number };
  return image.journal ?? 0;
}

function percentOf(line: string): number {
  return Number(line.split(" ")[2] ?? "0");
}

/**
 * Reopens after a kill mid-job and checks the job goes on: Running at once, its first progress at least its
 * checkpoint (a restart from zero would report one batch, about 6 %), then Completed. Returns the job as it ended
 * and the percent it resumed from.
 */
async function expectResumed(engine: EmbeddedEngine, copy: string): Promise<{ job: JobObservation; from: number }> {
  const progress: number[] = [];
  engine.subscribe((i) => {
    if (i.kind === "Progress") progress.push(i.job.percentComplete);
  });
  const seen = await engine.observeCopy(copy);
  const id = seen?.activeJob ?? "";
  expect((await engine.observeJob(id))?.jobState, "the job is still running after the reopen").toBe("Running");
  const job = await waitForJob(engine, id);
  expect(job).toMatchObject({ jobState: "Completed", operationalStatus: ["Completed", "OK"] });
  return { job, from: progress[0] ?? 100 };
}

describe("crash safety of the embedded engine", () => {
  const cases = [
    {
      name: "killed mid-copy: the job goes on from its checkpoint, the copy ends Frozen at its point in time",
      scenario: "mid-copy",
      copy: "dst",
      expected: "pit",
      syncState: "Frozen",
    },
    {
      name: "killed mid-resync: it goes on from its checkpoint, the copy ends Frozen at the resync's point in time",
      scenario: "mid-resync",
      copy: "dst",
      expected: "pit",
      syncState: "Frozen",
    },
    {
      name: "killed mid-copy without saveSnapshot: the job goes on, the copy completes and its association ends",
      scenario: "mid-unassociated-copy",
      copy: "dst",
      expected: "pit",
      syncState: undefined,
    },
    {
      name: "killed mid-restore: the restore goes on from its checkpoint, the base ends as the virtual copy",
      scenario: "mid-restore",
      copy: "snap",
      expected: "snap",
      syncState: "Idle",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await freshDir();
      const lines = await runAndKill(dir, c.scenario, (line) => line.startsWith("progress") && percentOf(line) >= 50);
      const killedAt = percentOf(lines.at(-1) ?? "");
      const engine = await reopen(dir);
      try {
        const { from } = await expectResumed(engine, c.copy);
        console.log(`${c.scenario}: killed at ${killedAt} %, resumed from ${from} %`);
        expect(from, "resumed from a checkpoint, not from the start").toBeGreaterThanOrEqual(10);
        expect(from).toBeLessThan(100);
        const seen = await engine.observeCopy(c.copy);
        expect(seen?.synchronization?.syncState).toBe(c.syncState);
        const written = c.scenario === "mid-restore" ? "base" : c.copy;
        expect(await sameBytes(engine, written, c.expected, bigVolumeBytes), `${written} equals ${c.expected}`).toBe(
          true,
        );
        if (c.scenario !== "mid-restore") expect(seen?.contentComplete).toBe(true);
      } finally {
        await engine.close();
      }
    });
  }

  it("killed mid-copy, then again while the reopened engine resumes it: it goes on from the later point", async () => {
    const dir = await freshDir();
    const first = await runAndKill(dir, "mid-copy", (line) => line.startsWith("progress") && percentOf(line) >= 50);
    // The reopened child prints the resumed job's progress; it is killed again further on.
    const second = await runAndKill(dir, "reopen", (line) => line.startsWith("progress") && percentOf(line) >= 85);
    const resumedFrom = percentOf(second.find((l) => l.startsWith("progress")) ?? "");
    expect(resumedFrom).toBeGreaterThanOrEqual(10);
    const engine = await reopen(dir);
    try {
      const { from } = await expectResumed(engine, "dst");
      console.log(
        `killed at ${percentOf(first.at(-1) ?? "")} %, resumed from ${resumedFrom} %; killed at ` +
          `${percentOf(second.at(-1) ?? "")} %, resumed from ${from} %`,
      );
      expect(from, "the second resume starts past the first").toBeGreaterThan(resumedFrom);
      expect(await sameBytes(engine, "dst", "pit", bigVolumeBytes)).toBe(true);
    } finally {
      await engine.close();
    }
  });

  it(
    "killed while creating virtual copies 32 at a time (group-committed catalog writes), reopens with " +
      "every acknowledged one",
    async () => {
      for (let run = 0; run < 3; run++) {
        const dir = await freshDir();
        const killAfter = 50 + Math.floor(Math.random() * 400);
        const lines = await runAndKill(dir, "concurrent-virtual-copies", (_, all) => all.length >= killAfter);
        const acknowledged = lines.filter((l) => l.startsWith("V ")).map((l) => l.slice(2));
        expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter - 1);
        const engine = await reopen(dir);
        try {
          const names = new Set((await engine.listCopies()).map((c) => c.name));
          expect(acknowledged.filter((n) => !names.has(n))).toEqual([]);
          // Unacknowledged ones may or may not be there, but each one there is whole: a readable, Idle virtual copy.
          for (const name of names)
            expect((await engine.observeCopy(name))?.synchronization?.syncState, name).toBe("Idle");
        } finally {
          await engine.close();
        }
      }
    },
  );

  it("killed at random instants of a mixed workload: every acknowledged copy intact, every job done", async () => {
    const stats = { runs: 0, snapshots: 0, completed: 0, resumed: 0, compactions: 0 };
    for (let run = 0; run < 6; run++) {
      const dir = await freshDir();
      const killAfter = 20 + Math.floor(Math.random() * 120);
      const lines = await runAndKill(dir, "random", (_, all) => all.length >= killAfter);
      const writes = lines.filter((l) => l.startsWith("W ")).length;
      const expected = (gen: number): Buffer => {
        const image = Buffer.alloc(randomVolumeBytes);
        for (let i = 0; i < gen; i++) {
          const w = randomWrite(i);
          w.data.copy(image, w.offset);
        }
        return image;
      };
      stats.compactions += await catalogGeneration(dir);
      const engine = await reopen(dir);
      try {
        // The base holds every acknowledged write; only the block of the write in flight may be old, new or torn.
        const base = await engine.readVolume("base", 0, randomVolumeBytes);
        const image = expected(writes);
        const inFlight = randomWrite(writes).offset;
        base.fill(0, inFlight, inFlight + block);
        image.fill(0, inFlight, inFlight + block);
        expect(base.equals(image), `base holds writes 0..${writes - 1}`).toBe(true);
        for (const line of lines.filter((l) => l.startsWith("S "))) {
          const [, name = "", gen = "0"] = line.split(" ");
          const image = expected(Number(gen));
          expect(
            (await engine.readVolume(name, 0, randomVolumeBytes)).equals(image),
            `${name} holds write ${gen}`,
          ).toBe(true);
          stats.snapshots++;
        }
        const genOfJob = new Map(
          lines.filter((l) => l.startsWith("J ")).map((l) => [l.split(" ")[1] ?? "", Number(l.split(" ")[2])]),
        );
        for (const copy of await engine.listCopies()) {
          if (copy.kind !== "Physical") continue;
          if (copy.activeJob !== undefined) {
            if ((await engine.observeJob(copy.activeJob))?.jobState === "Running") stats.resumed++;
            await waitForJob(engine, copy.activeJob);
          }
          const now = await engine.observeCopy(copy.name);
          expect(now?.synchronization?.syncState, copy.name).toBe("Frozen");
          const last = await engine.observeJob(now?.lastJob ?? "");
          expect(last?.jobState).toBe("Completed");
          const gen = genOfJob.get(last?.id ?? "") ?? writes;
          expect(
            (await engine.readVolume(copy.name, 0, randomVolumeBytes)).equals(expected(gen)),
            `${copy.name} holds write ${gen}`,
          ).toBe(true);
          stats.completed++;
        }
      } finally {
        await engine.close();
      }
      stats.runs++;
    }
    console.log(`crash runs: ${JSON.stringify(stats)}`);
    // The child compacts its catalog whenever the journal outgrows the image: kills fell between compactions.
    expect(stats.compactions).toBeGreaterThan(0);
    expect(stats.runs).toBe(6);
  });
});
