// The physical-copy data mover: copies a set of blocks from a point-in-time view onto a target. Only blocks that
// may hold data are visited (the set comes from block maps, so a 64 GiB volume holding 1 GiB costs about 1 GiB
// of I/O). Data moves in 128 KiB pieces, 16 in flight: small buffers stay in the CPU cache, which is what makes
// cp fast, where big ones stream through memory twice.
//
// Reads run without the engine mutex, optimistically, and are checked after: a batch of blocks is resolved
// under the mutex, its pieces are copied, then the batch is resolved again under the mutex and any block whose
// location changed (or whose read failed) is copied again from the new location, under the mutex. This is safe
// because a block's old content is always saved and registered in a snapshot's log before the base block is
// overwritten, and saved blocks never change: if a block still resolves where it was read from after the read
// ended, no overwrite had begun before the read ended. Nothing here is durable until the caller commits the
// returned maps (BlockStore.commitCopy); the target has no other writer while the job runs.
import { Bitmap } from "./bitmap.ts";
import { blockBytes } from "./catalog.ts";
import { aborted, type Mutex } from "./mutex.ts";
import type { BlockStore } from "./store.ts";
import { resolve, type LiveNode, type Location } from "./view.ts";

const batchBlocks = 256;
const pieceBlocks = 2;
const inFlight = 16;
/** Batches copied at once, so one batch's check under the mutex overlaps another's I/O. */
const batchesInFlight = 2;
/** Start flushing the target every this many bytes, in the background, so writeback overlaps the copy. */
const flushEvery = 256 * 1024 * 1024;

export interface CopyOutcome {
  readonly held: Bitmap;
  readonly freed: Bitmap;
}

export interface CopyRequest {
  readonly store: BlockStore;
  readonly mutex: Mutex;
  readonly source: LiveNode;
  readonly target: LiveNode;
  readonly blocks: Bitmap;
  /** The target was reset: blocks that read as zeros need no write. Otherwise they are freed on the target. */
  readonly full: boolean;
  readonly signal: AbortSignal;
  readonly progress: (done: number, total: number) => void;
}

interface Piece {
  readonly first: number;
  readonly locations: Location[];
  readonly zero: boolean;
}

function* batches(blocks: Bitmap): Generator<number[]> {
  let batch: number[] = [];
  for (const r of blocks.ranges()) {
    for (let b = r.start; b < r.start + r.count; b++) {
      batch.push(b);
      if (batch.length === batchBlocks) {
        yield batch;
        batch = [];
      }
    }
  }
  if (batch.length > 0) yield batch;
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

function same(a: Location | undefined, b: Location): boolean {
  if (a === undefined || a.in !== b.in) return false;
  return a.in === "zero" || (b.in !== "zero" && a.node === b.node && a.offset === b.offset);
}

/** Copies the blocks; undefined when aborted (the caller has already ended the job). */
export async function copyBlocks(request: CopyRequest): Promise<CopyOutcome | undefined> {
  const { store, mutex, source, target, blocks, full, signal } = request;
  const total = blocks.count();
  const held = new Bitmap();
  const freed = new Bitmap();
  let done = 0;
  let unflushed = 0;
  let flushing: Promise<void> = Promise.resolve();

  const place = async (first: number, locations: readonly Location[], zero: boolean, buf: Buffer): Promise<void> => {
    if (zero) {
      held.clearRange(first, locations.length);
      if (!full) freed.setRange(first, locations.length);
      return;
    }
    await store.readLocations(locations, buf);
    await store.writeCopyData(target, first, buf.subarray(0, locations.length * blockBytes));
    held.setRange(first, locations.length);
    freed.clearRange(first, locations.length);
    unflushed += locations.length * blockBytes;
  };

  const copyBatch = async (batch: readonly number[], buffers: readonly Buffer[]): Promise<void> => {
    const locations = await mutex.run(() => {
      const view = store.view(source);
      return Promise.resolve(batch.map((b) => resolve(view, b)));
    });
    const work = pieces(batch, locations);
    const failed = new Set<number>();
    let next = 0;
    await Promise.all(
      buffers.map(async (buf) => {
        for (let piece = work[next++]; piece !== undefined; piece = work[next++]) {
          try {
            await place(piece.first, piece.locations, piece.zero, buf);
          } catch {
            // A log read after its snapshot was deleted, say: the check below copies the block again.
            for (let b = piece.first; b < piece.first + piece.locations.length; b++) failed.add(b);
          }
        }
      }),
    );
    await mutex.run(async () => {
      const view = store.view(source);
      const buf = buffers[0] ?? Buffer.allocUnsafe(blockBytes);
      for (let i = 0; i < batch.length; i++) {
        const b = batch[i] ?? 0;
        const now = resolve(view, b);
        if (!failed.has(b) && same(locations[i], now)) continue;
        await place(b, [now], now.in === "zero", buf);
      }
    });
    done += batch.length;
    request.progress(done, total);
    if (unflushed >= flushEvery) {
      unflushed = 0;
      // One flush at a time; a failure surfaces when the job awaits the last one, or at commit.
      flushing = flushing.then(() => store.syncCopyData(target)).catch(() => undefined);
    }
  };

  const all = batches(blocks);
  await Promise.all(
    Array.from({ length: batchesInFlight }, async () => {
      const buffers = Array.from({ length: inFlight }, () => Buffer.allocUnsafe(pieceBlocks * blockBytes));
      for (let batch = all.next(); batch.done !== true; batch = all.next()) {
        if (aborted(signal)) return;
        await copyBatch(batch.value, buffers);
      }
    }),
  );
  await flushing;
  if (aborted(signal)) return undefined;
  return { held, freed };
}
