// The physical-copy data mover: copies a set of blocks from a point-in-time view onto a target. Only blocks that
// may hold data are visited (the set comes from block maps, so a 64 GiB volume holding 1 GiB costs about 1 GiB
// of I/O). The bytes are moved by a thread of the data mover (mover.ts) with synchronous I/O: pieces of up to
// 256 KiB, which the thread joins into direct (O_DIRECT) writes of up to 4 MiB where they follow each other on the
// target, so the copy neither waits on the operator's event loop nor queues in libuv's pool, and its bytes do not
// pass through the page cache. This thread only resolves locations, checks them and keeps the books.
//
// Reads run without the engine mutex, optimistically, and are checked after: a batch of blocks is resolved
// under the mutex, its pieces are copied, then the batch is resolved again under the mutex and any block whose
// location changed (or whose read failed) is copied again from the new location, under the mutex. This is safe
// because a block's old content is always saved and registered in a snapshot's log before the base block is
// overwritten, and saved blocks never change: if a block still resolves where it was read from after the read
// ended, no overwrite had begun before the read ended. The target has no other writer while the job runs.
//
// Durability and resume: every `flushBytes` written, the target is flushed in the background, at most two flushes
// pending (beyond that the copy waits for the disk). Once a flush ends, the set's blocks below the first batch
// still unfinished when it began (a sealed prefix: their writes had returned) go to `checkpoint`, which records
// them and the prefix's end as the job's resume point: a checkpoint never claims a block whose data was not flushed.
// What is not checkpointed is returned, for the caller to flush and record. A resumed copy starts at `startAt`.
import { Bitmap } from "./bitmap.ts";
import { blockBytes } from "./catalog.ts";
import type { Move, Mover, Segment } from "./mover.ts";
import { aborted, type Mutex } from "./mutex.ts";
import type { BlockStore } from "./store.ts";
import { resolve, type LiveNode, type Location } from "./view.ts";

const batchBlocks = 256;
const pieceBlocks = 4;
/** Batches copied at once: the mover has the next ones queued while this thread checks one (or waits its turn). */
const batchesInFlight = 4;
/** Flush the target every this many bytes, in the background (writeback overlaps the copy), and checkpoint. */
export const defaultFlushBytes = 256 * 1024 * 1024;

export interface CopyOutcome {
  readonly held: Bitmap;
  readonly freed: Bitmap;
}

export interface CopyRequest {
  readonly store: BlockStore;
  readonly mutex: Mutex;
  /** The thread that moves the bytes, leased for this copy. */
  readonly mover: Mover;
  readonly source: LiveNode;
  readonly target: LiveNode;
  readonly blocks: Bitmap;
  /** The target was reset: blocks that read as zeros need no write. Otherwise they are freed on the target. */
  readonly full: boolean;
  readonly signal: AbortSignal;
  readonly progress: (done: number, total: number) => void;
  /** Blocks of the set below this are already on the target (a resumed job's checkpoint). */
  readonly startAt: number;
  readonly flushBytes: number;
  /** Records blocks below `below` (flushed) and the resume point; may fail, the end's commit then covers them. */
  readonly checkpoint: (below: number, held: Bitmap, freed: Bitmap) => Promise<void>;
}

interface Piece {
  readonly first: number;
  readonly locations: Location[];
  readonly zero: boolean;
}

interface Batch {
  readonly index: number;
  readonly blocks: number[];
}

function* batches(blocks: Bitmap, startAt: number): Generator<Batch> {
  let batch: number[] = [];
  let index = 0;
  for (const r of blocks.ranges()) {
    for (let b = Math.max(r.start, startAt); b < r.start + r.count; b++) {
      batch.push(b);
      if (batch.length === batchBlocks) {
        yield { index: index++, blocks: batch };
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield { index, blocks: batch };
}

/** Set blocks below `end`. */
function countBelow(blocks: Bitmap, end: number): number {
  let n = 0;
  for (const r of blocks.ranges(end)) n += r.count;
  return n;
}

/** Takes (and clears) a map's blocks below `end`. */
function takeBelow(map: Bitmap, end: number): Bitmap {
  const part = Bitmap.fromRanges(map.ranges(end));
  map.clearRange(0, end);
  return part;
}

function pieces(batch: readonly number[], locations: readonly Location[]): Piece[] {
  const out: Piece[] = [];
  let i = 0;
  while (i < batch.length) {
    const first = batch[i] ?? 0;
    const zero = locations[i]?.in === "zero";
    let n = 1;
    while (n < pieceBlocks && batch[i + n] === first + n && (locations[i + n]?.in === "zero") === zero) n++;
    out.push({ first, locations: locations.slice(i, i + n), zero });
    i += n;
  }
  return out;
}

/** A piece's sources as file ranges, neighbours in one file merged. */
function segments(store: BlockStore, locations: readonly Location[]): Segment[] {
  const out: Segment[] = [];
  for (const l of locations) {
    if (l.in === "zero") throw new Error("a zero block has no file");
    const f = store.fileOf(l);
    const last = out.at(-1);
    if (last?.path === f.path && last.offset + last.bytes === f.offset) {
      out[out.length - 1] = { ...last, bytes: last.bytes + blockBytes };
    } else {
      out.push({ ...f, bytes: blockBytes });
    }
  }
  return out;
}

function same(a: Location | undefined, b: Location): boolean {
  if (a === undefined || a.in !== b.in) return false;
  return a.in === "zero" || (b.in !== "zero" && a.node === b.node && a.offset === b.offset);
}

/** Copies the blocks; what is not checkpointed yet, or undefined when aborted (the caller has ended the job). */
export async function copyBlocks(request: CopyRequest): Promise<CopyOutcome | undefined> {
  const { store, mutex, mover, source, target, blocks, full, signal, startAt } = request;
  const total = blocks.count();
  const held = new Bitmap();
  const freed = new Bitmap();
  let done = countBelow(blocks, startAt);
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();
  let flushesPending = 0;
  /** Every block of the set below it has been written (a prefix of whole batches), and below it, checkpointed. */
  let sealed = startAt;
  let recorded = startAt;
  const finished = new Map<number, number>();
  let nextToSeal = 0;

  const placedZero = (first: number, count: number): void => {
    held.clearRange(first, count);
    if (!full) freed.setRange(first, count);
  };
  const placed = (first: number, count: number): void => {
    held.setRange(first, count);
    freed.clearRange(first, count);
    unflushed += count * blockBytes;
  };
  /** One block, copied by this thread (the check after a batch). */
  const place = async (block: number, location: Location, buf: Buffer): Promise<void> => {
    if (location.in === "zero") {
      placedZero(block, 1);
      return;
    }
    await store.readLocations([location], buf);
    await store.writeCopyData(target, block, buf.subarray(0, blockBytes));
    placed(block, 1);
  };

  const seal = (batch: Batch): void => {
    finished.set(batch.index, (batch.blocks.at(-1) ?? 0) + 1);
    for (let end = finished.get(nextToSeal); end !== undefined; end = finished.get(nextToSeal)) {
      finished.delete(nextToSeal++);
      sealed = end;
    }
  };

  const flush = (): void => {
    const below = sealed;
    // One flush at a time; a failure surfaces at the end's flush, or in the job's commit.
    flushesPending++;
    flushing = flushing
      .then(async () => {
        await store.syncCopyData(target);
        if (below <= recorded || aborted(signal)) return;
        await request.checkpoint(below, takeBelow(held, below), takeBelow(freed, below));
        recorded = below;
      })
      .catch(() => undefined)
      .finally(() => {
        flushesPending--;
      });
  };

  const copyBatch = async (batch: Batch, targetPath: string, buf: Buffer): Promise<void> => {
    const blocksOfBatch = batch.blocks;
    const locations = await mutex.run(() => {
      const view = store.view(source);
      return Promise.resolve(blocksOfBatch.map((b) => resolve(view, b)));
    });
    const moved: Piece[] = [];
    const moves: Move[] = [];
    for (const piece of pieces(blocksOfBatch, locations)) {
      if (piece.zero) {
        placedZero(piece.first, piece.locations.length);
        continue;
      }
      moved.push(piece);
      moves.push({ target: targetPath, at: piece.first * blockBytes, from: segments(store, piece.locations) });
    }
    const failedMoves = await mover.move(moves);
    const failed = new Set<number>();
    moved.forEach((piece, i) => {
      const n = piece.locations.length;
      // A log read after its snapshot was deleted, say: the check below copies the block again.
      if (failedMoves.has(i)) for (let b = piece.first; b < piece.first + n; b++) failed.add(b);
      else placed(piece.first, n);
    });
    await mutex.run(async () => {
      const view = store.view(source);
      for (let i = 0; i < blocksOfBatch.length; i++) {
        const b = blocksOfBatch[i] ?? 0;
        const now = resolve(view, b);
        if (!failed.has(b) && same(locations[i], now)) continue;
        await place(b, now, buf);
      }
    });
    seal(batch);
    done += blocksOfBatch.length;
    request.progress(done, total);
    // The last batch needs no checkpoint: the caller's flush and commit follow at once.
    if (unflushed >= request.flushBytes && done < total) {
      unflushed = 0;
      flush();
    }
    // The copy runs at most two flushes ahead of the disk: unflushed data stays bounded, and so does how far a
    // crash sends the job back.
    if (flushesPending >= 2) await flushing;
  };

  if (done > 0) request.progress(done, total);
  const targetPath = await mutex.run(() => store.copyTargetPath(target));
  const all = batches(blocks, startAt);
  await Promise.all(
    Array.from({ length: batchesInFlight }, async () => {
      const buf = Buffer.allocUnsafe(blockBytes);
      for (let batch = all.next(); batch.done !== true; batch = all.next()) {
        if (aborted(signal)) return;
        await copyBatch(batch.value, targetPath, buf);
      }
    }),
  );
  await flushing;
  if (aborted(signal)) return undefined;
  return { held, freed };
}
