import { mkdir, mkdtemp, open, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { Bitmap } from "./bitmap.ts";
import { blockBytes, type NodeRecord } from "./catalog.ts";
import { BlockStore } from "./store.ts";
import type { LiveNode } from "./view.ts";

function nodeRecord(id: number, name: string, layout: "overlay" | "delta", parent?: string): NodeRecord {
  return {
    id,
    name,
    seq: id,
    sizeBytes: 16 * blockBytes,
    layout,
    parent,
    readOnly: layout === "delta",
    internal: false,
    createdAt: 0,
    expiresAt: undefined,
    retainedUntil: undefined,
    contentComplete: true,
  };
}

const fill = (byte: number) => Buffer.alloc(blockBytes, byte);

let dir = "";
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "store-"));
  await mkdir(join(dir, "vols"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("BlockStore copy-on-write and its redo after lost writeback", () => {
  /** What a power cut does to writes that were never synced: the data file's block is not what was written. */
  async function loseWriteback(id: number, block: number): Promise<void> {
    const handle = await open(join(dir, "vols", `${id}.data`), "r+");
    await handle.write(fill(0xee), 0, blockBytes, block * blockBytes);
    await handle.close();
  }

  function get(store: BlockStore, name: string): LiveNode {
    const node = store.get(name);
    if (node === undefined) throw new Error(`no ${name}`);
    return node;
  }

  const cases = [
    { name: "an overwritten block comes back from the snapshot's log", before: 0xaa as number | undefined, lose: true },
    { name: "a block first written after the snapshot is held again after redo", before: undefined, lose: true },
    { name: "nothing lost: reopening changes nothing", before: 0xaa, lose: false },
  ];
  for (const c of cases) {
    it(c.name, async () => {
      const records = [nodeRecord(1, "base", "overlay"), nodeRecord(2, "snap", "delta", "base")];
      const first = await BlockStore.open(dir, []);
      const [baseRecord, snapRecord] = records as [NodeRecord, NodeRecord];
      const base = first.add(baseRecord);
      if (c.before !== undefined) await first.writeBlocks(base, 3, fill(c.before));
      first.add(snapRecord);
      await first.writeBlocks(base, 3, fill(0xbb));
      // No close: the process dies here, with the base's data file written but not synced.
      if (c.lose) await loseWriteback(1, 3);
      const reopened = await BlockStore.open(dir, records);
      expect((await reopened.read(get(reopened, "base"), 3 * blockBytes, blockBytes)).equals(fill(0xbb))).toBe(true);
      expect((await reopened.read(get(reopened, "snap"), 3 * blockBytes, blockBytes)).equals(fill(c.before ?? 0))).toBe(
        true,
      );
      await reopened.close();
      await first.close();
    });
  }

  it("a plain write after a copy-on-write one is not undone by the redo", async () => {
    const records = [nodeRecord(1, "base", "overlay"), nodeRecord(2, "snap", "delta", "base")];
    const store = await BlockStore.open(dir, []);
    const [baseRecord, snapRecord] = records as [NodeRecord, NodeRecord];
    const base = store.add(baseRecord);
    store.add(snapRecord);
    await store.writeBlocks(base, 5, fill(1)); // copy-on-write: logged with its new block
    await store.writeBlocks(base, 5, fill(2)); // the snapshot has the block now: a plain, synced write
    const reopened = await BlockStore.open(dir, records);
    expect((await reopened.read(get(reopened, "base"), 5 * blockBytes, blockBytes)).equals(fill(2))).toBe(true);
    expect((await reopened.read(get(reopened, "snap"), 5 * blockBytes, blockBytes)).equals(fill(0))).toBe(true);
    await reopened.close();
    await store.close();
  });
});

describe("BlockStore copy checkpoints", () => {
  it("a job's resume point and the blocks recorded with it survive a reopen; the latest one counts", async () => {
    const records = [nodeRecord(1, "target", "overlay")];
    const store = await BlockStore.open(dir, []);
    const target = store.add(records[0] as NodeRecord);
    await store.writeCopyData(target, 0, Buffer.concat([fill(1), fill(2)]));
    await store.syncCopyData(target);
    await store.recordCopied(target, Bitmap.fromRanges([{ start: 0, count: 2 }]), new Bitmap(), { job: "7", below: 2 });
    await store.recordCopied(target, new Bitmap(), Bitmap.fromRanges([{ start: 1, count: 1 }]), { job: "7", below: 5 });
    // No close: the process dies here.
    const reopened = await BlockStore.open(dir, records);
    const node = reopened.get("target");
    expect(node?.checkpoint).toEqual({ job: "7", below: 5 });
    expect([node?.alloc.has(0), node?.alloc.has(1)]).toEqual([true, false]);
    await reopened.close();
    await store.close();
  });

  it("a reset (a full copy starting again) forgets the resume point", async () => {
    const records = [nodeRecord(1, "target", "overlay")];
    const store = await BlockStore.open(dir, []);
    const target = store.add(records[0] as NodeRecord);
    await store.recordCopied(target, new Bitmap(), new Bitmap(), { job: "7", below: 3 });
    await store.reset(target);
    expect(target.checkpoint).toBeUndefined();
    const reopened = await BlockStore.open(dir, records);
    expect(reopened.get("target")?.checkpoint).toBeUndefined();
    await reopened.close();
    await store.close();
  });
});
