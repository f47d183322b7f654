// The block store: every volume node's files under <dir>/vols and its in-memory block maps. It owns the ordering
// that makes writes crash safe:
// - copy-on-write in one fsync: the first write to a block of N after a snapshot appends one record holding the
//   old and the new block to the snapshot's log (fdatasync), then writes N's data file without syncing it. The log
//   is N's redo journal until a "settled" record says N's data file was synced: at open, unsettled records are
//   written again. Plain writes, new snapshots and snapshot removals settle N first, so a replay never lands
//   on top of a newer write;
// - data before map: a plain write is synced before the log marks the block held, so a crash between the two
//   reads the block's previous content (parent's or zeros), never a half-filled map entry.
// Callers serialise calls (the engine's mutex); copy jobs write a target no one else may write (writeCopyData).
import { constants } from "node:fs";
import { open, unlink, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { Bitmap, type BlockRange } from "./bitmap.ts";
import { blockBytes, type NodeRecord } from "./catalog.ts";
import { fsyncDirectory } from "./files.ts";
import { encodeRanges, keepPayload, record, replay, unsettled } from "./block-records.ts";
import { RecordLog, type LogRecord, type ScannedRecord } from "./record-log.ts";
import { blocksOf, resolve, viewOf, type Layer, type LiveNode, type Location } from "./view.ts";

export class BlockStore {
  private readonly nodes = new Map<string, LiveNode>();
  private readonly handles = new Map<number, FileHandle>();
  private readonly dir: string;

  private constructor(dir: string) {
    this.dir = dir;
  }

  static async open(dir: string, records: readonly NodeRecord[]): Promise<BlockStore> {
    const store = new BlockStore(dir);
    const redo: { node: LiveNode; records: ScannedRecord[] }[] = [];
    for (const r of [...records].sort((a, b) => a.seq - b.seq)) {
      const opened = await RecordLog.open(store.logPath(r.id), keepPayload);
      const node = store.register(r, opened.log);
      replay(node, opened.records);
      const pending = unsettled(opened.records);
      if (pending.length > 0) redo.push({ node, records: pending });
    }
    for (const { node, records: pending } of redo) await store.redo(node, pending);
    return store;
  }

  /** Writes unsettled copy-on-write records' new blocks onto the snapshot's parent again, then settles it. */
  private async redo(snapshot: LiveNode, pending: readonly ScannedRecord[]): Promise<void> {
    const parent = this.nodes.get(snapshot.record.parent ?? "");
    if (parent === undefined) return;
    const buf = Buffer.allocUnsafe(blockBytes);
    const handle = await this.data(parent);
    for (const r of pending) {
      const newAt = r.type === record.cow ? r.payloadOffset + blockBytes : r.payloadOffset;
      await snapshot.log.read(buf, 0, blockBytes, newAt);
      await writeAll(handle, buf, r.arg * blockBytes);
      if (!parent.alloc.has(r.arg)) parent.pendingAlloc.set(r.arg);
      parent.alloc.set(r.arg);
    }
    parent.pendingIn = snapshot;
    await this.settle(parent);
  }

  /** Makes a node's copy-on-write writes durable in its own files and marks its snapshot's records settled. */
  async settle(node: LiveNode): Promise<void> {
    const snapshot = node.pendingIn;
    if (snapshot === undefined) return;
    await (await this.data(node)).datasync();
    const fresh = node.pendingAlloc.clone();
    node.pendingAlloc.clearAll();
    if (fresh.count() > 0) await this.markHeld(node, fresh, "alloc");
    if (this.nodes.get(snapshot.record.name) === snapshot) {
      await snapshot.log.append([{ type: record.settled, arg: 0, payload: Buffer.alloc(0) }]);
    }
    node.pendingIn = undefined;
  }

  get(name: string): LiveNode | undefined {
    return this.nodes.get(name);
  }

  all(): IterableIterator<LiveNode> {
    return this.nodes.values();
  }

  fileIds(): Set<number> {
    return new Set([...this.nodes.values()].map((n) => n.record.id));
  }

  /** Registers a node created in the catalog; its files appear on first write. */
  add(r: NodeRecord): LiveNode {
    return this.register(r, RecordLog.empty(this.logPath(r.id)));
  }

  view(node: LiveNode): Layer[] {
    return viewOf(node, (name) => this.nodes.get(name));
  }

  async remove(name: string): Promise<void> {
    const node = this.nodes.get(name);
    if (node === undefined) return;
    const parent = node.record.parent === undefined ? undefined : this.nodes.get(node.record.parent);
    if (parent?.pendingIn === node) await this.settle(parent);
    await this.settle(node);
    this.nodes.delete(name);
    if (parent !== undefined) parent.snapshots.splice(parent.snapshots.indexOf(node), 1);
    await node.log.close();
    await this.handles.get(node.record.id)?.close();
    this.handles.delete(node.record.id);
    for (const path of [this.logPath(node.record.id), this.dataPath(node.record.id)]) {
      await unlink(path).catch((e: unknown) => {
        if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      });
    }
  }

  /** Reads whole blocks whose locations were resolved together into `into` (block i at i × blockBytes). */
  async readLocations(locations: readonly Location[], into: Buffer): Promise<void> {
    let i = 0;
    while (i < locations.length) {
      const first = locations[i];
      if (first === undefined) break;
      let n = 1;
      if (first.in === "zero") {
        while (locations[i + n]?.in === "zero") n++;
        into.fill(0, i * blockBytes, (i + n) * blockBytes);
      } else {
        for (;;) {
          const next = locations[i + n];
          if (next?.in !== first.in || next.node !== first.node || next.offset !== first.offset + n * blockBytes) break;
          n++;
        }
        if (first.in === "log") await first.node.log.read(into, i * blockBytes, n * blockBytes, first.offset);
        else await this.readData(first.node, into, i * blockBytes, n * blockBytes, first.offset);
      }
      i += n;
    }
  }

  async readBlocks(view: readonly Layer[], start: number, count: number, into: Buffer): Promise<void> {
    const locations: Location[] = [];
    for (let b = start; b < start + count; b++) locations.push(resolve(view, b));
    await this.readLocations(locations, into);
  }

  /** A byte-range read of a node's view. */
  async read(node: LiveNode, offset: number, length: number): Promise<Buffer> {
    if (length === 0) return Buffer.alloc(0);
    const first = Math.floor(offset / blockBytes);
    const count = Math.floor((offset + length - 1) / blockBytes) - first + 1;
    const buf = Buffer.allocUnsafe(count * blockBytes);
    await this.readBlocks(this.view(node), first, count, buf);
    return buf.subarray(offset - first * blockBytes, offset - first * blockBytes + length);
  }

  /** A durable byte-range write: partial blocks are read, patched and written whole. */
  async write(node: LiveNode, offset: number, data: Uint8Array): Promise<void> {
    if (data.length === 0) return;
    const first = Math.floor(offset / blockBytes);
    const last = Math.floor((offset + data.length - 1) / blockBytes);
    const buf = Buffer.allocUnsafe((last - first + 1) * blockBytes);
    const view = this.view(node);
    if (offset % blockBytes !== 0) await this.readBlocks(view, first, 1, buf);
    if ((offset + data.length) % blockBytes !== 0) {
      await this.readBlocks(view, last, 1, buf.subarray((last - first) * blockBytes));
    }
    buf.set(data, offset - first * blockBytes);
    await this.writeBlocks(node, first, buf);
  }

  /** Writes whole blocks durably, saving old content into the node's newest snapshot first. */
  async writeBlocks(node: LiveNode, start: number, buf: Buffer): Promise<void> {
    const count = buf.length / blockBytes;
    const newest = node.snapshots.at(-1);
    if (newest !== undefined) {
      const limit = Math.min(start + count, blocksOf(newest.record.sizeBytes));
      for (let b = start; b < limit; b++) {
        if (!newest.saved.has(b)) {
          await this.writeCopyOnWrite(node, newest, start, buf);
          return;
        }
      }
    }
    await this.settle(node);
    await this.preserve(node, start, count);
    const handle = await this.data(node);
    await writeAll(handle, buf, start * blockBytes);
    await handle.datasync();
    const fresh: BlockRange[] = [];
    for (let b = start; b < start + count; b++) if (!node.alloc.has(b)) fresh.push({ start: b, count: 1 });
    if (fresh.length > 0) await this.markHeld(node, Bitmap.fromRanges(fresh), "alloc");
  }

  /** One log append (old and new blocks) with one fsync; the data file is written but synced only when settled. */
  private async writeCopyOnWrite(node: LiveNode, newest: LiveNode, start: number, buf: Buffer): Promise<void> {
    const count = buf.length / blockBytes;
    const limit = blocksOf(newest.record.sizeBytes);
    const view = this.view(node);
    const blocks = Array.from({ length: count }, (_, i) => start + i);
    const cow = blocks.filter((b) => b < limit && !newest.saved.has(b));
    const locations = cow.map((b) => resolve(view, b));
    const old = Buffer.allocUnsafe(cow.length * blockBytes);
    await this.readLocations(locations, old);
    const byBlock = new Map(cow.map((b, i) => [b, i]));
    const records: LogRecord[] = blocks.map((b, j) => {
      const fresh = buf.subarray(j * blockBytes, (j + 1) * blockBytes);
      const i = byBlock.get(b);
      if (i === undefined) return { type: record.redo, arg: b, payload: fresh };
      if (locations[i]?.in === "zero") return { type: record.cowHole, arg: b, payload: fresh };
      return {
        type: record.cow,
        arg: b,
        payload: Buffer.concat([old.subarray(i * blockBytes, (i + 1) * blockBytes), fresh]),
      };
    });
    if (node.pendingIn !== undefined && node.pendingIn !== newest) await this.settle(node);
    const offsets = await newest.log.append(records);
    records.forEach((r, j) => {
      if (r.type === record.cow) newest.saved.set(r.arg, offsets[j] ?? -1);
      else if (r.type === record.cowHole) newest.saved.set(r.arg, -1);
    });
    node.pendingIn = newest;
    await writeAll(await this.data(node), buf, start * blockBytes);
    for (const b of blocks) {
      if (!node.alloc.has(b)) node.pendingAlloc.set(b);
      node.alloc.set(b);
    }
  }

  /** Makes blocks read as zeros (a base gives them back; an overlay over a parent must hold zeros explicitly). */
  async zeroBlocks(node: LiveNode, start: number, count: number): Promise<void> {
    if (node.record.parent !== undefined) {
      await this.writeBlocks(node, start, Buffer.alloc(count * blockBytes));
      return;
    }
    await this.settle(node);
    await this.preserve(node, start, count);
    await this.markHeld(node, Bitmap.fromRanges([{ start, count }]), "free");
  }

  /** Copy-on-write: saves the current content of blocks the newest snapshot has not saved yet. */
  async preserve(node: LiveNode, start: number, count: number): Promise<void> {
    const newest = node.snapshots.at(-1);
    if (newest === undefined) return;
    const limit = Math.min(start + count, blocksOf(newest.record.sizeBytes));
    const needed: number[] = [];
    for (let b = start; b < limit; b++) if (!newest.saved.has(b)) needed.push(b);
    if (needed.length === 0) return;
    const view = this.view(node);
    const locations = needed.map((b) => resolve(view, b));
    const old = Buffer.allocUnsafe(needed.length * blockBytes);
    await this.readLocations(locations, old);
    const records: LogRecord[] = needed.map((b, i) =>
      locations[i]?.in === "zero"
        ? { type: record.savedHole, arg: b, payload: Buffer.alloc(0) }
        : { type: record.saved, arg: b, payload: old.subarray(i * blockBytes, (i + 1) * blockBytes) },
    );
    const offsets = await newest.log.append(records);
    needed.forEach((b, i) => newest.saved.set(b, locations[i]?.in === "zero" ? -1 : (offsets[i] ?? -1)));
  }

  /** Forgets everything an overlay holds (a full copy is about to rewrite it) and frees its space. */
  async reset(node: LiveNode): Promise<void> {
    await node.log.append([{ type: record.reset, arg: 0, payload: Buffer.alloc(0) }]);
    node.alloc.clearAll();
    node.checkpoint = undefined;
    const handle = await this.data(node);
    await handle.truncate(0);
  }

  /**
   * A copy job's raw write into its target, which has no snapshots and no other writer; syncCopyData then
   * recordCopied make it durable.
   */
  async writeCopyData(node: LiveNode, start: number, buf: Uint8Array): Promise<void> {
    await writeAll(await this.data(node), buf, start * blockBytes);
  }

  /** The data file a copy job writes (made now if absent, its directory entry durable), for the data mover. */
  async copyTargetPath(node: LiveNode): Promise<string> {
    await this.data(node);
    return this.dataPath(node.record.id);
  }

  /** Where a resolved location's bytes are, as a file and an offset, for the data mover. */
  fileOf(location: Exclude<Location, { in: "zero" }>): { path: string; offset: number; pastEnd: "zeros" | "error" } {
    const id = location.node.record.id;
    return location.in === "log"
      ? { path: this.logPath(id), offset: location.offset, pastEnd: "error" }
      : { path: this.dataPath(id), offset: location.offset, pastEnd: "zeros" };
  }

  /** Flushes a copy target's data so far, so writeback overlaps the copy instead of piling up at its end. */
  async syncCopyData(node: LiveNode): Promise<void> {
    await (await this.data(node)).datasync();
  }

  /**
   * Records in one log append what a copy job put on its target: the blocks it now holds, those it freed and, for a
   * running job, its resume point. The blocks' data must already be flushed (syncCopyData after their writes).
   */
  async recordCopied(
    node: LiveNode,
    held: Bitmap,
    freed: Bitmap,
    checkpoint?: { readonly job: string; readonly below: number },
  ): Promise<void> {
    const records: LogRecord[] = [];
    const heldRanges = [...held.ranges()];
    const freedRanges = [...freed.ranges()];
    if (heldRanges.length > 0) records.push({ type: record.alloc, arg: 0, payload: encodeRanges(heldRanges) });
    if (freedRanges.length > 0) records.push({ type: record.free, arg: 0, payload: encodeRanges(freedRanges) });
    if (checkpoint !== undefined)
      records.push({ type: record.checkpoint, arg: checkpoint.below, payload: Buffer.from(checkpoint.job, "utf8") });
    if (records.length === 0) return;
    await node.log.append(records);
    for (const r of heldRanges) node.alloc.setRange(r.start, r.count);
    for (const r of freedRanges) node.alloc.clearRange(r.start, r.count);
    if (checkpoint !== undefined) node.checkpoint = checkpoint;
  }

  /** Before a snapshot goes, the next older sibling (which reads through it) takes the blocks it lacks. */
  async mergeIntoOlder(node: LiveNode): Promise<void> {
    const parent = node.record.parent === undefined ? undefined : this.nodes.get(node.record.parent);
    if (parent !== undefined) await this.settle(parent);
    const older = parent?.snapshots[parent.snapshots.indexOf(node) - 1];
    if (older === undefined) return;
    const limit = blocksOf(older.record.sizeBytes);
    const moving = [...node.saved.entries()].filter(([b]) => b < limit && !older.saved.has(b));
    for (let i = 0; i < moving.length; i += 64) {
      const batch = moving.slice(i, i + 64);
      const locations: Location[] = batch.map(([, at]) => (at < 0 ? { in: "zero" } : { in: "log", node, offset: at }));
      const buf = Buffer.allocUnsafe(batch.length * blockBytes);
      await this.readLocations(locations, buf);
      const records: LogRecord[] = batch.map(([b, at], j) =>
        at < 0
          ? { type: record.savedHole, arg: b, payload: Buffer.alloc(0) }
          : { type: record.saved, arg: b, payload: buf.subarray(j * blockBytes, (j + 1) * blockBytes) },
      );
      const offsets = await older.log.append(records);
      batch.forEach(([b, at], j) => older.saved.set(b, at < 0 ? -1 : (offsets[j] ?? -1)));
    }
  }

  async close(): Promise<void> {
    for (const node of this.nodes.values()) await this.settle(node);
    for (const node of this.nodes.values()) await node.log.close();
    for (const handle of this.handles.values()) await handle.close();
    this.handles.clear();
  }

  private register(r: NodeRecord, log: RecordLog): LiveNode {
    const node: LiveNode = {
      record: r,
      alloc: new Bitmap(),
      saved: new Map(),
      log,
      snapshots: [],
      pendingIn: undefined,
      pendingAlloc: new Bitmap(),
      checkpoint: undefined,
    };
    this.nodes.set(r.name, node);
    if (r.parent !== undefined && r.layout === "delta") this.nodes.get(r.parent)?.snapshots.push(node);
    return node;
  }

  private async markHeld(node: LiveNode, blocks: Bitmap, as: "alloc" | "free"): Promise<void> {
    const ranges = [...blocks.ranges()];
    if (ranges.length === 0) return;
    await node.log.append([{ type: record[as], arg: 0, payload: encodeRanges(ranges) }]);
    for (const r of ranges) {
      if (as === "alloc") node.alloc.setRange(r.start, r.count);
      else node.alloc.clearRange(r.start, r.count);
    }
  }

  private async readData(node: LiveNode, into: Buffer, at: number, length: number, offset: number): Promise<void> {
    const handle = await this.data(node);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await handle.read(into, at + done, length - done, offset + done);
      // Past the end of a sparse file reads as zeros: a block can be held but its tail never extended the file.
      if (bytesRead === 0) {
        into.fill(0, at + done, at + length);
        return;
      }
      done += bytesRead;
    }
  }

  private async data(node: LiveNode): Promise<FileHandle> {
    const known = this.handles.get(node.record.id);
    if (known !== undefined) return known;
    const path = this.dataPath(node.record.id);
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDWR);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
      handle = await open(path, constants.O_RDWR | constants.O_CREAT, 0o600);
      await fsyncDirectory(join(this.dir, "vols"));
    }
    const raced = this.handles.get(node.record.id);
    if (raced !== undefined) {
      await handle.close();
      return raced;
    }
    this.handles.set(node.record.id, handle);
    return handle;
  }

  private logPath(id: number): string {
    return join(this.dir, "vols", `${id}.log`);
  }

  private dataPath(id: number): string {
    return join(this.dir, "vols", `${id}.data`);
  }
}

async function writeAll(handle: FileHandle, buf: Uint8Array, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await handle.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}
