// Runs the engine contract against the wsapi driver talking HTTPS to the test array (test/wsapi-server), which
// keeps its data in an embedded engine with the suite's movable clock: once as the guide describes the array,
// and once in each quirk other servers show (state.ts). The driver verifies the test array's self-signed
// certificate through caBundle. Reading and writing volume data goes to the test array's engine directly (WSAPI
// has no data path): that data path is test-only.
// Beside the contract, the cases only WSAPI has: stopping an online copy deletes its destination and the
// array's internal snapshots, and nothing else, whatever the array's answers look like.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { EngineError } from "../../operator/src/engine/errors.ts";
import type { Engine } from "../../operator/src/engine/port.ts";
import { openWsapiEngine } from "../../operator/src/engine/wsapi/engine.ts";
import { wsapiVolumes, type DataPath } from "../../operator/src/engine/wsapi/volumes.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { quirkNames, type Quirks } from "../wsapi-server/state.ts";
import { engineContract } from "./engine-contract.ts";
import { MiB, owner, pattern, refusal, TestClock, volumesOf } from "./helpers.ts";

/** The test array's data, with the engine's own "cannot …" context taken off (the driver adds its own). */
function dataPath(engine: EmbeddedEngine): DataPath {
  const inner = (e: unknown): Error => {
    if (e instanceof EngineError && e.cause instanceof EngineError) return e.cause;
    return e instanceof Error ? e : new Error(String(e));
  };
  return {
    read: (name, offset, length) =>
      engine.readVolume(name, offset, length).catch((e: unknown) => Promise.reject(inner(e))),
    write: (name, offset, data) =>
      engine.writeVolume(name, offset, data).catch((e: unknown) => Promise.reject(inner(e))),
  };
}

interface Setup {
  readonly engine: Engine;
  readonly array: TestArray;
  readonly clock: TestClock;
  readonly skipped: { volume: number; task: number };
  dispose(): Promise<void>;
}

/** `copies`: how many physical copies the array runs at once (0: every copy stays queued, its task active). */
async function setUp(quirks: Partial<Quirks>, copies = 2): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-wsapi-"));
  const clock = new TestClock();
  const backing = await openEmbeddedEngine({ dataDir: dir, clock, expiryIntervalMs: 0, maxConcurrentCopies: copies });
  const array = await startTestArray({ engine: backing, clock, quirks });
  const skipped = { volume: 0, task: 0, volumeSet: 0 };
  const engine = openWsapiEngine({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    caBundle: array.ca,
    cpg: "FC_r6",
    pollIntervalMs: 20,
    volumes: (api) => wsapiVolumes(api, "FC_r6", undefined, dataPath(backing)),
    onMalformed: (kind) => {
      skipped[kind]++;
    },
  });
  return {
    engine,
    array,
    clock,
    skipped,
    dispose: async () => {
      await engine.close();
      await array.close();
      await backing.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const modes: readonly { readonly name: string; readonly quirks: Partial<Quirks> }[] = [
  { name: "as documented", quirks: {} },
  ...quirkNames.map((q) => ({ name: q, quirks: { [q]: true } })),
];

for (const mode of modes) {
  engineContract(`wsapi (test array, ${mode.name})`, async () => {
    const s = await setUp(mode.quirks);
    return { engine: s.engine, clock: s.clock, remote: true, dispose: () => s.dispose() };
  });
}

describe("wsapi: a physical copy another client just made", () => {
  it("is not read as complete from a task list that predates it", async () => {
    // No copy ever starts: the copy's task stays active.
    const s = await setUp({}, 0);
    const observer = openWsapiEngine({
      endpoint: s.array.url,
      user: s.array.user,
      password: s.array.password,
      caBundle: s.array.ca,
      cpg: "FC_r6",
      pollIntervalMs: 20,
      // Long enough that the list read below, before the copy existed, would serve the observation.
      tasksTtlMs: 60_000,
    });
    try {
      await volumesOf(s.engine).createVolume("src", MiB);
      expect(await observer.observeCopy("oc")).toBeUndefined();
      const { job } = await s.engine.createPhysicalCopy({
        name: "oc",
        source: "src",
        online: true,
        saveSnapshot: false,
        owner: owner(),
      });
      const seen = await observer.observeCopy("oc");
      expect(seen?.contentComplete).toBe(false);
      expect(seen?.activeJob).toBe(job.id);
      expect(seen?.synchronization?.syncState).toBe("Initialized");
    } finally {
      await observer.close();
      await s.dispose();
    }
  });
});

describe("wsapi: stopping an online copy deletes what it made and nothing else", () => {
  for (const mode of [
    ...modes,
    { name: "every quirk at once", quirks: Object.fromEntries(quirkNames.map((q) => [q, true])) },
  ]) {
    describe(mode.name, () => {
      let s: Setup;
      beforeEach(async () => {
        // No copy ever starts: the online copy stays queued, its task active, its internal snapshots there.
        s = await setUp(mode.quirks, 0);
      });
      afterEach(async () => {
        await s.dispose();
      });

      /** Bystanders: plain volumes, another owner's snapshot of the source, a snapshot of that. */
      async function bystanders(): Promise<Map<string, Buffer>> {
        const v = volumesOf(s.engine);
        const data = new Map<string, Buffer>();
        for (const [name, seed] of [
          ["src", 1],
          ["keep-a", 2],
          ["keep-b", 3],
        ] as const) {
          await v.createVolume(name, 2 * MiB);
          const bytes = pattern(seed, 2 * MiB);
          await v.writeVolume(name, 0, bytes);
          data.set(name, bytes);
        }
        await s.engine.createVirtualCopy({
          name: "their-snap",
          source: "src",
          readOnly: true,
          owner: owner("theirs", "uid-9"),
        });
        await s.engine.createVirtualCopy({
          name: "their-rw",
          source: "their-snap",
          readOnly: false,
          owner: owner("theirs", "uid-9"),
        });
        data.set("their-snap", data.get("src") ?? Buffer.alloc(0));
        return data;
      }

      async function queuedOnlineCopy(): Promise<string> {
        const { copy, job } = await s.engine.createPhysicalCopy({
          name: "oc",
          source: "src",
          online: true,
          saveSnapshot: false,
          owner: owner(),
        });
        expect(copy.synchronization?.syncState).toBe("Initialized");
        expect(job.jobState).toBe("New");
        return job.id;
      }

      async function expectIntact(data: Map<string, Buffer>): Promise<void> {
        const names = (await volumesOf(s.engine).listVolumes()).map((v) => v.name).sort();
        expect(names).toEqual(["keep-a", "keep-b", "src", "their-rw", "their-snap"]);
        for (const [name, bytes] of data)
          expect((await volumesOf(s.engine).readVolume(name, 0, bytes.length)).equals(bytes)).toBe(true);
      }

      it(
        "deleteCopy: cancels the task, deletes the destination and its two " + "internal snapshots, in that order",
        async () => {
          const data = await bystanders();
          const id = await queuedOnlineCopy();
          await s.engine.deleteCopy({ name: "oc", owner: owner() });
          expect(s.array.deleted).toEqual(["oc", `ocp-${id}-rw`, `ocp-${id}-ro`]);
          expect(await s.engine.observeJob(id)).toMatchObject({ jobState: "Terminated" });
          await expectIntact(data);
        },
      );

      it("halt: the same, through the copy or through its job", async () => {
        const data = await bystanders();
        const id = await queuedOnlineCopy();
        const halted = await s.engine.halt({ job: id, owner: owner() });
        expect(halted).toMatchObject({ id, jobState: "Terminated" });
        expect(s.array.deleted).toEqual(["oc", `ocp-${id}-rw`, `ocp-${id}-ro`]);
        await expectIntact(data);
      });

      it("another owner's delete or halt is refused before the task is cancelled", async () => {
        await bystanders();
        const id = await queuedOnlineCopy();
        const other = owner("copy-b", "uid-2");
        for (const act of [
          () => s.engine.deleteCopy({ name: "oc", owner: other }),
          () => s.engine.halt({ copy: "oc", owner: other }),
          () => s.engine.halt({ job: id, owner: other }),
        ]) {
          expect((await refusal(act)).code).toBe("NotOwned");
        }
        expect(s.array.deleted).toEqual([]);
        expect(await s.engine.observeJob(id)).toMatchObject({ jobState: "New" });
      });

      it("polls of a running copy cost no volume read while its tasks do not change", async () => {
        await bystanders();
        await queuedOnlineCopy();
        const before = s.array.requests.length;
        for (let i = 0; i < 5; i++) expect((await s.engine.observeCopy("oc"))?.activeJob).toBeDefined();
        const polls = s.array.requests.slice(before);
        expect(polls.filter((r) => r === "GET /api/v1/volumes/oc")).toEqual([]);
        expect(polls.every((r) => r === "GET /api/v1/tasks")).toBe(true);
      });

      it("the task poller asks the array nothing while no task it follows is unfinished", async () => {
        await bystanders();
        const seen: string[] = [];
        const off = s.engine.subscribe((i) => seen.push(`${i.kind} ${i.job.id}`));
        await new Promise((r) => setTimeout(r, 200));
        const idle = s.array.requests.length;
        await new Promise((r) => setTimeout(r, 300));
        expect(s.array.requests.length).toBe(idle);
        const id = await queuedOnlineCopy();
        await new Promise((r) => setTimeout(r, 300));
        expect(s.array.requests.slice(idle).filter((r) => r === "GET /api/v1/tasks").length).toBeGreaterThan(1);
        off();
        expect(seen.filter((x) => x.endsWith(` ${id}`))).toEqual([]);
      });

      it("a group of volumes that are not one array set is refused (Unsupported), with nothing made", async () => {
        const vols = volumesOf(s.engine);
        await vols.createVolume("grp-a", 1024 * 1024);
        await vols.createVolume("grp-b", 1024 * 1024);
        const before = s.array.requests.length;
        const e = await refusal(() =>
          s.engine.createGroupVirtualCopy({
            namePrefix: "vg-none-",
            sources: ["grp-a", "grp-b"],
            readOnly: true,
            owner: owner(),
          }),
        );
        expect([e.code, e.kind]).toEqual(["Unsupported", "final"]);
        expect(e.message).toContain("not one volume set");
        expect(s.array.requests.slice(before).filter((r) => r.startsWith("POST"))).toEqual([]);
      });

      if (mode.quirks.foreignTasks === true) {
        it("the array's own tasks are no jobs: not observed, not halted, not counted on a copy", async () => {
          await bystanders();
          await queuedOnlineCopy();
          for (const id of ["900001", "900002", "900003"]) {
            expect(await s.engine.observeJob(id)).toBeUndefined();
            expect((await refusal(() => s.engine.halt({ job: id, owner: owner() }))).arrayCode).toBe(145);
          }
          // 900002 is an active region move named like the first copy task's volume: "oc".
          expect((await s.engine.observeCopy("oc"))?.activeJob).not.toBe("900002");
        });
      }

      if (mode.quirks.malformedRecord === true) {
        it("a malformed record is skipped and counted, the rest read", async () => {
          await bystanders();
          const listed = (await volumesOf(s.engine).listVolumes()).map((v) => v.name);
          expect(listed).toContain("keep-a");
          expect(listed).not.toContain("half-written-record");
          await s.engine.listCopies();
          expect(s.skipped.volume).toBeGreaterThanOrEqual(2);
          expect(s.skipped.task).toBeGreaterThanOrEqual(1);
        });
      }
    });
  }
});
