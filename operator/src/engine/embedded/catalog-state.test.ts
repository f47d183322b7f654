import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { emptyCatalog, parseCatalog, type CopyRecord, type JobRecord, type NodeRecord } from "./catalog.ts";
import { CatalogState } from "./catalog-state.ts";
import { openEmbeddedEngine } from "./engine.ts";

const node = (name: string, parent?: string, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id: 1,
  seq: 1,
  name,
  sizeBytes: 1 << 20,
  layout: "delta",
  parent,
  readOnly: true,
  internal: false,
  createdAt: 0,
  expiresAt: undefined,
  retainedUntil: undefined,
  contentComplete: true,
  ...extra,
});

const copy = (name: string): CopyRecord => ({
  name,
  kind: "Physical",
  owner: { namespace: "ns", name, uid: `uid-${name}` },
  source: "src",
  createdAt: 0,
  online: false,
  saveSnapshot: true,
  sync: {
    copyType: "UnSyncAssoc",
    replicaType: "FullCopy",
    syncState: "Initialized",
    whenSynced: undefined,
    percentSynced: 0,
    copyPriority: "Same",
    savedSnapshot: undefined,
  },
  activeJob: undefined,
});

const job = (id: string, copyName: string): JobRecord => ({
  id,
  operation: "Copy",
  copy: copyName,
  priority: "Same",
  jobState: "New",
  operationalStatus: ["Dormant"],
  percentComplete: 0,
  errorCode: 0,
  errorDescription: "",
  timeSubmitted: 0,
  startTime: undefined,
  endTime: undefined,
  pointInTime: undefined,
  previousSnapshot: undefined,
});

/** A replica built from the live catalog's image, fed every delta: it must read exactly as the live one. */
function pair(): { live: CatalogState; check: () => void } {
  const live = CatalogState.from(emptyCatalog());
  const replica = CatalogState.from(parseCatalog(live.image(0)));
  return {
    live,
    check: () => {
      const delta = live.takeDelta();
      if (delta !== undefined) replica.apply(delta);
      expect(replica.image(0)).toBe(live.image(0));
    },
  };
}

describe("CatalogState", () => {
  it("a delta holds in-place changes at any depth, counters, removals and replacements", () => {
    const { live, check } = pair();
    live.put("nodes", node("src"));
    const c = live.put("copies", copy("dst"));
    const j = live.put("jobs", job("1", "dst"));
    live.nextJob = 2;
    check();
    expect(live.takeDelta()).toBeUndefined();

    c.activeJob = "1";
    if (c.sync !== undefined) c.sync.syncState = "Synchronized";
    j.operationalStatus.push("OK");
    j.jobState = "Running";
    check();

    c.sync = undefined;
    live.put("copies", { ...copy("dst"), online: true });
    live.remove("jobs", "1");
    live.nextId = 9;
    check();
    expect(live.copy("dst")?.online).toBe(true);
  });

  it("keeps the order of a record removed and added again within one delta", () => {
    const { live, check } = pair();
    for (const n of ["a", "b", "c"]) live.put("nodes", node(n));
    check();
    live.remove("nodes", "a");
    live.put("nodes", node("d"));
    live.put("nodes", node("a"));
    check();
    expect([...live.nodes()].map((n) => n.name)).toEqual(["b", "c", "d", "a"]);
  });

  it("matches its replica after a random workload", () => {
    const { live, check } = pair();
    let seed = 12345;
    const rand = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let step = 0; step < 3000; step++) {
      const name = `n${String(rand(40))}`;
      switch (rand(7)) {
        case 0:
          live.put("nodes", node(name, rand(2) === 0 ? undefined : `n${String(rand(40))}`));
          break;
        case 1:
          live.remove("nodes", name);
          break;
        case 2:
          live.put("copies", copy(name));
          break;
        case 3: {
          const c = live.copy(name);
          if (c?.sync !== undefined) c.sync.percentSynced = rand(100);
          else if (c !== undefined) c.activeJob = String(rand(9));
          break;
        }
        case 4:
          live.put("jobs", job(String(rand(60)), name));
          break;
        case 5: {
          const n = live.node(name);
          if (n !== undefined) n.expiresAt = rand(1000);
          break;
        }
        default:
          live.nextSeq++;
      }
      if (rand(10) === 0) check();
    }
    check();
  });

  it("indexes children, internal nodes, each copy's last job and the earliest expiry", () => {
    const live = CatalogState.from(emptyCatalog());
    live.put("nodes", node("base"));
    live.put("nodes", node("s1", "base"));
    live.put("nodes", node("#pit-3", "base", { internal: true }));
    expect(live.children("base").map((n) => n.name)).toEqual(["s1", "#pit-3"]);
    expect(live.internalNodes().map((n) => n.name)).toEqual(["#pit-3"]);
    live.remove("nodes", "s1");
    expect(live.hasChildren("base")).toBe(true);
    live.remove("nodes", "#pit-3");
    expect(live.hasChildren("base")).toBe(false);

    live.put("copies", copy("dst"));
    live.put("jobs", job("7", "dst"));
    live.put("jobs", job("12", "dst"));
    live.put("jobs", job("9", "dst"));
    expect(live.lastJob("dst")?.id).toBe("12");
    expect(live.dropJobs(() => true)).toBe(2);
    expect(live.lastJob("dst")?.id).toBe("12");
    live.remove("copies", "dst");
    expect(live.dropJobs(() => true)).toBe(1);
    expect(live.lastJob("dst")).toBeUndefined();

    const n = live.node("base");
    expect(live.expiryHint).toBe(Number.POSITIVE_INFINITY);
    if (n !== undefined) n.expiresAt = 500;
    expect(live.expiryHint).toBe(500);
  });
});

describe("the catalog's journal on disk", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const owner = { namespace: "ns", name: "vc", uid: "uid-1" };

  it("commits deltas, folds them into a new image, and reopens to the same catalog", async () => {
    const dir = mkdtempSync(join(tmpdir(), "arraycopy-journal-"));
    dirs.push(dir);
    const engine = await openEmbeddedEngine({ dataDir: dir, compactBytes: 16 * 1024, verifyCatalog: true });
    await engine.volumes.createVolume("src", 1 << 20);
    await Promise.all(
      Array.from({ length: 200 }, (_, i) =>
        engine.createVirtualCopy({ name: `vc${String(i)}`, source: "src", readOnly: true, owner }),
      ),
    );
    for (let i = 0; i < 200; i += 3) await engine.deleteCopy({ name: `vc${String(i)}`, owner });
    const before = await engine.listCopies();
    await engine.close();

    // The journal outgrew 16 KiB: the image names a later generation, whose journal is the only one.
    const image = parseCatalog(readFileSync(join(dir, "meta.json"), "utf8"));
    expect(image.journal ?? 0).toBeGreaterThan(0);
    const logs = readdirSync(dir).filter((f) => /^meta\.\d+\.log$/.test(f));
    expect(logs.every((f) => f === `meta.${String(image.journal)}.log`)).toBe(true);

    const again = await openEmbeddedEngine({ dataDir: dir });
    expect(await again.listCopies()).toEqual(before);
    expect(before).toHaveLength(200 - 67);
    await again.close();
  });

  it("compacting often while saves overlap the writes: every image names the journal written after it", async () => {
    // compactBytes 1 and a catalog of two copies: a commit takes a full image whenever the journal outgrows the last
    // one, which is every commit or two. A create commits lazily (its write runs with the lock free) and a delete
    // saves under the lock, so an image can be taken while the one before it is being written. Each round reopens
    // the directory and must find exactly what the engine had.
    const dir = mkdtempSync(join(tmpdir(), "arraycopy-journal-"));
    dirs.push(dir);
    const open = () => openEmbeddedEngine({ dataDir: dir, compactBytes: 1, verifyCatalog: true });
    let engine = await open();
    await engine.volumes.createVolume("src", 1 << 20);
    await engine.createVirtualCopy({ name: "c0", source: "src", readOnly: true, owner });
    let generations = 0;
    try {
      for (let round = 1; round <= 60; round++) {
        const name = `c${String(round)}`;
        await Promise.all([
          engine.createVirtualCopy({ name, source: "src", readOnly: true, owner }),
          engine.deleteCopy({ name: `c${String(round - 1)}`, owner }),
        ]);
        const before = await engine.listCopies();
        expect(before.map((c) => c.name)).toEqual([name]);
        await engine.close();
        generations = parseCatalog(readFileSync(join(dir, "meta.json"), "utf8")).journal ?? 0;
        engine = await open();
        expect(await engine.listCopies(), `round ${String(round)}`).toEqual(before);
      }
    } finally {
      await engine.close();
    }
    expect(generations).toBeGreaterThan(20);
  });
});
