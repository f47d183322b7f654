// Crash tests: a child process (crash-child.ts) is killed with SIGKILL mid-copy, mid-resync, mid-restore, or at
// random instants of a workload mixing writes, virtual copies, physical copies and resyncs; the engine reopened
// on its directory must be consistent: every acknowledged virtual copy and every completed physical copy holds
// exactly its point in time, interrupted jobs ended Exception with their copy Broken (and a new job repairs it),
// queued jobs run to completion. The kill instants are random; the checks hold whatever they are.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { interruptedDescription } from "../../operator/src/engine/embedded/jobs.ts";
import { bigVolumeBytes, randomVolumeBytes, randomWrite } from "./crash-child.ts";
import { block, owner, refusal, sameBytes, waitForJob } from "./helpers.ts";

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

async function expectBrokenThenRepair(
  engine: EmbeddedEngine,
  copy: string,
  repair: "StartCopy" | "Restore",
  source: string,
): Promise<void> {
  const seen = await engine.observeCopy(copy);
  const job = await engine.observeJob(seen?.lastJob ?? "");
  expect(seen?.synchronization?.syncState).toBe("Broken");
  expect(job).toMatchObject({
    jobState: "Exception",
    operationalStatus: ["Completed", "Error"],
    errorDescription: interruptedDescription,
  });
  if (repair === "StartCopy") {
    expect(seen?.contentComplete).toBe(false);
    const e = await refusal(() => engine.startJob({ copy, owner: owner(), operation: "Resync" }));
    expect(e.arraySymbol).toBe("VV_IN_STALE_STATE");
  }
  const fixed = await engine.startJob({ copy, owner: owner(), operation: repair });
  expect((await waitForJob(engine, fixed.id)).jobState).toBe("Completed");
  const other = repair === "StartCopy" ? copy : "base";
  expect(await sameBytes(engine, other, source, bigVolumeBytes)).toBe(true);
}

describe("crash safety of the embedded engine", () => {
  const cases = [
    {
      name: "killed mid-copy: the copy is Broken, resync is refused, start copy repairs it",
      scenario: "mid-copy",
      copy: "dst",
      repair: "StartCopy",
      source: "src",
    },
    {
      name: "killed mid-resync: the copy is Broken, start copy repairs it",
      scenario: "mid-resync",
      copy: "dst",
      repair: "StartCopy",
      source: "src",
    },
    {
      name: "killed mid-restore: the virtual copy is Broken, a new restore completes it",
      scenario: "mid-restore",
      copy: "snap",
      repair: "Restore",
      source: "snap",
    },
  ] as const;
  for (const c of cases) {
    it(c.name, async () => {
      const dir = await freshDir();
      await runAndKill(dir, c.scenario, (line) => line.startsWith("progress"));
      const engine = await reopen(dir);
      try {
        await expectBrokenThenRepair(engine, c.copy, c.repair, c.source);
      } finally {
        await engine.close();
      }
    });
  }

  it(
    "killed mid-copy without saveSnapshot: the association ends (UnSyncUnAssoc), the target is incomplete " +
      "and free for a new copy",
    async () => {
      const dir = await freshDir();
      await runAndKill(dir, "mid-unassociated-copy", (line) => line.startsWith("progress"));
      const engine = await reopen(dir);
      try {
        const seen = await engine.observeCopy("dst");
        expect(seen?.synchronization).toBeUndefined();
        expect(seen?.contentComplete).toBe(false);
        expect(await engine.observeJob(seen?.lastJob ?? "")).toMatchObject({
          jobState: "Exception",
          errorDescription: interruptedDescription,
        });
        const { job } = await engine.createPhysicalCopy({
          name: "dst",
          source: "src",
          online: false,
          saveSnapshot: false,
          owner: { namespace: "default", name: "copy-b", uid: "uid-2" },
        });
        expect((await waitForJob(engine, job.id)).jobState).toBe("Completed");
        expect(await sameBytes(engine, "dst", "src", bigVolumeBytes)).toBe(true);
      } finally {
        await engine.close();
      }
    },
  );

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

  it("killed at random instants of a mixed workload, reopens with every acknowledged copy intact", async () => {
    const stats = { runs: 0, snapshots: 0, completed: 0, interrupted: 0 };
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
          if (copy.activeJob !== undefined) await waitForJob(engine, copy.activeJob);
          const now = await engine.observeCopy(copy.name);
          const state = now?.synchronization?.syncState;
          if (state === "Frozen") {
            const last = await engine.observeJob(now?.lastJob ?? "");
            expect(last?.jobState).toBe("Completed");
            const gen = genOfJob.get(last?.id ?? "") ?? writes;
            expect(
              (await engine.readVolume(copy.name, 0, randomVolumeBytes)).equals(expected(gen)),
              `${copy.name} holds write ${gen}`,
            ).toBe(true);
            stats.completed++;
          } else {
            expect(state).toBe("Broken");
            expect(now?.contentComplete).toBe(false);
            stats.interrupted++;
          }
        }
      } finally {
        await engine.close();
      }
      stats.runs++;
    }
    console.log(`crash runs: ${JSON.stringify(stats)}`);
    expect(stats.runs).toBe(6);
  });
});
