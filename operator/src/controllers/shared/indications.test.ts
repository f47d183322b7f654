// Engine indications as keys: every Started and Finished of a real (embedded) engine's job wakes a key, Progress
// at most once a second per job, and the maps find the CopyJob recording the array job and the copy it acts on.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { openEmbeddedEngine } from "../../engine/embedded/engine.ts";
import type { Engine, JobListener } from "../../engine/port.ts";
import {
  EngineIndications,
  jobsOfIndication,
  physicalCopiesOfIndication,
  virtualCopiesOfIndication,
} from "./indications.ts";
import type { CopyJobObject, PhysicalCopyObject, VirtualCopyObject } from "./objects.ts";

const owner = { namespace: "ns", name: "pc", uid: "u-1" };

/** An engine whose indications the test emits by hand (only subscribe is used by EngineIndications). */
function handEngine(): { engine: Engine; emit: JobListener } {
  let listener: JobListener = () => undefined;
  const engine = { subscribe: (l: JobListener) => ((listener = l), () => undefined) } as unknown as Engine;
  return {
    engine,
    emit: (i) => {
      listener(i);
    },
  };
}

const job = (id: string, copy: string) => ({ id, copy }) as Parameters<JobListener>[0]["job"];

describe("EngineIndications", () => {
  it("wakes a key for each Started and Finished of a real engine's physical copy", async () => {
    const dir = await mkdtemp(join(tmpdir(), "indications-"));
    const engine = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
    try {
      const source = new EngineIndications();
      const keys: string[] = [];
      source.onChange((k) => keys.push(k));
      source.follow(engine);
      source.follow(engine); // once per engine
      await engine.createVolume("src", 4 << 20);
      await engine.writeVolume("src", 0, Buffer.alloc(4 << 20, 7));
      await engine.createVolume("dst", 4 << 20);
      const { job: started } = await engine.createPhysicalCopy({
        name: "dst",
        source: "src",
        online: false,
        saveSnapshot: true,
        owner,
      });
      for (let i = 0; i < 200 && !keys.includes(`${started.id}\ndst`); i++) await new Promise((r) => setTimeout(r, 10));
      for (let i = 0; i < 500 && (await engine.observeJob(started.id))?.jobState !== "Completed"; i++)
        await new Promise((r) => setTimeout(r, 10));
      await new Promise((r) => setTimeout(r, 20));
      expect(new Set(keys)).toEqual(new Set([`${started.id}\ndst`]));
      expect(keys.length).toBeGreaterThanOrEqual(2);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("lets Progress through at most once a second per job, and Finished always", () => {
    let t = 0;
    const source = new EngineIndications(() => t);
    const { engine, emit } = handEngine();
    const keys: string[] = [];
    source.onChange((k) => keys.push(k));
    source.follow(engine);
    emit({ kind: "Started", job: job("7", "dst") });
    for (let i = 0; i < 50; i++) {
      t += 30;
      emit({ kind: "Progress", job: job("7", "dst") });
    }
    emit({ kind: "Progress", job: job("8", "other") });
    emit({ kind: "Finished", job: job("7", "dst") });
    // Started, Progress at t=30 and t=1050 (1.5 s of progress), the other job's Progress, Finished.
    expect(keys).toEqual(["7\ndst", "7\ndst", "7\ndst", "8\nother", "7\ndst"]);
  });

  it("maps an indication to the CopyJob recording its array job and to the copy it acts on", () => {
    const meta = (name: string) => ({ name, namespace: "ns", uid: name });
    const jobs = [
      { metadata: meta("resync"), status: { arrayJobId: "7" } },
      { metadata: meta("older"), status: { arrayJobId: "6" } },
    ] as unknown as CopyJobObject[];
    const pcs = [{ metadata: meta("pc"), status: { targetVolume: "dst" } }] as unknown as PhysicalCopyObject[];
    const vcs = [{ metadata: meta("vc"), status: { arrayName: "vc-1" } }] as unknown as VirtualCopyObject[];
    expect(jobsOfIndication({ list: () => jobs })("7\ndst")).toEqual(["ns/resync"]);
    expect(physicalCopiesOfIndication({ list: () => pcs })("7\ndst")).toEqual(["ns/pc"]);
    expect(virtualCopiesOfIndication({ list: () => vcs })("7\ndst")).toEqual([]);
    expect(virtualCopiesOfIndication({ list: () => vcs })("9\nvc-1")).toEqual(["ns/vc"]);
  });
});
