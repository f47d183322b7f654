// The data mover's thread (mover.ts starts it): copies byte ranges between files with plain synchronous pread and
// pwrite, one move after another, off the engine's event loop. It knows nothing of blocks or views: the copier
// resolves every location under the engine's mutex and sends paths and offsets.
//
// Writes go to the target with O_DIRECT, in pieces of up to 4 MiB: moves of one request whose target ranges follow
// each other are read into one aligned buffer and written at once. Through the page cache, a copy's bytes cost a
// copy into the cache and then writeback (page walks, block allocation) in whatever thread flushes them: measured
// here, 20 copies of 256 MiB by dd with one fdatasync each took 9–13 s through the cache (7.5–11.5 CPU-s of system
// time) and 4–5 s with O_DIRECT in 1 MiB writes (1.5–1.9 CPU-s); 256 KiB direct writes took 7.8 s. O_DIRECT does
// not make a write durable (the disk's cache, the extent's metadata): the copier's fdatasync still does that.
// A write that is not 4 KiB-aligned in offset and length, or a file system that refuses O_DIRECT (EINVAL), goes
// through the page cache instead. Reads stay buffered: the source is often in the page cache, and a snapshot log's
// blocks sit after record headers, at offsets no direct read could take.
//
// Files are opened by path and kept open until the lease ends ("release"). File ids are never reused, so a path
// always names the same node; a file unlinked meanwhile (a snapshot deleted) still reads its old bytes, which the
// copier's check after each batch notices (the block's location changed) and copies again.
//
// This file imports nothing of ours: it runs as its own module in a worker thread, from source (.ts) or dist (.js).
import { closeSync, constants, openSync, readSync, writeSync } from "node:fs";
import { parentPort } from "node:worker_threads";

export interface Segment {
  readonly path: string;
  readonly offset: number;
  readonly bytes: number;
  /** A data file reads zeros past its end (a sparse file's tail); a log must hold every byte asked for. */
  readonly pastEnd: "zeros" | "error";
}

export interface Move {
  readonly target: string;
  readonly at: number;
  readonly from: readonly Segment[];
}

export type MoverRequest =
  | { readonly id: number; readonly kind: "move"; readonly moves: readonly Move[] }
  | { readonly id: number; readonly kind: "release" };

/** The indices of the moves that failed (with the first error's text); the others are written. */
export interface MoverReply {
  readonly id: number;
  readonly failed: readonly number[];
  readonly error?: string;
}

/** Direct I/O wants buffer, file offset and length aligned to the device's logical block (512 B or 4 KiB). */
const directAlign = 4096;
/** The largest write the mover makes by joining moves (a single larger move gets a buffer of its size). */
const joinBytes = 4 * 1024 * 1024;

type Access = "read" | "write" | "direct";
const fds = new Map<string, number>();
/** Targets whose file system refused O_DIRECT: written through the page cache until the lease ends. */
const buffered = new Set<string>();

/**
 * Memory aligned to a 64 KiB page, as direct I/O needs: a WebAssembly memory's backing store is mapped whole pages,
 * where a Buffer is only 8-byte aligned. Should a platform differ, the first direct write fails with EINVAL and the
 * target goes buffered, so correctness never rests on it.
 */
declare const WebAssembly: {
  Memory: new (pages: { initial: number; maximum: number }) => { readonly buffer: ArrayBuffer };
};

function alignedBuffer(bytes: number): Buffer {
  const pages = Math.ceil(bytes / 65536);
  return Buffer.from(new WebAssembly.Memory({ initial: pages, maximum: pages }).buffer);
}

let buffer = alignedBuffer(joinBytes);

function fdOf(path: string, access: Access): number {
  const key = `${access}:${path}`;
  let fd = fds.get(key);
  if (fd === undefined) {
    const flags = {
      read: constants.O_RDONLY,
      write: constants.O_WRONLY,
      direct: constants.O_WRONLY | constants.O_DIRECT,
    };
    fd = openSync(path, flags[access]);
    fds.set(key, fd);
  }
  return fd;
}

function readSegment(s: Segment, into: Buffer, at: number): void {
  const fd = fdOf(s.path, "read");
  let done = 0;
  while (done < s.bytes) {
    const n = readSync(fd, into, at + done, s.bytes - done, s.offset + done);
    if (n === 0) {
      if (s.pastEnd === "error") throw new Error(`short read from ${s.path} at ${String(s.offset + done)}`);
      into.fill(0, at + done, at + s.bytes);
      return;
    }
    done += n;
  }
}

function writeAll(fd: number, data: Buffer, at: number): void {
  let done = 0;
  while (done < data.length) done += writeSync(fd, data, done, data.length - done, at + done);
}

function writeAt(path: string, data: Buffer, at: number): void {
  const direct = at % directAlign === 0 && data.length % directAlign === 0 && !buffered.has(path);
  if (!direct) {
    writeAll(fdOf(path, "write"), data, at);
    return;
  }
  try {
    writeAll(fdOf(path, "direct"), data, at);
  } catch (e: unknown) {
    if ((e as NodeJS.ErrnoException).code !== "EINVAL") throw e;
    buffered.add(path);
    writeAll(fdOf(path, "write"), data, at);
  }
}

/** Runs the moves, joining those whose target ranges follow each other; the indices of those that failed. */
function moveAll(moves: readonly Move[]): { failed: number[]; error?: string } {
  const failed: number[] = [];
  let error: string | undefined;
  const fail = (indices: readonly number[], e: unknown): void => {
    failed.push(...indices);
    error ??= e instanceof Error ? e.message : String(e);
  };
  // The moves read into `buffer` so far, not yet written: they go to `target` from `start`, `filled` bytes.
  let joined: number[] = [];
  let target = "";
  let start = 0;
  let filled = 0;
  const write = (): void => {
    if (joined.length === 0) return;
    try {
      writeAt(target, buffer.subarray(0, filled), start);
    } catch (e: unknown) {
      fail(joined, e);
    }
    joined = [];
    filled = 0;
  };
  moves.forEach((m, i) => {
    const bytes = m.from.reduce((n, s) => n + s.bytes, 0);
    const follows = joined.length > 0 && m.target === target && m.at === start + filled;
    if (!follows || filled + bytes > buffer.length) write();
    if (bytes > buffer.length) buffer = alignedBuffer(bytes);
    if (joined.length === 0) {
      target = m.target;
      start = m.at;
    }
    try {
      let at = filled;
      for (const s of m.from) {
        readSegment(s, buffer, at);
        at += s.bytes;
      }
    } catch (e: unknown) {
      // The moves joined before it are written; the next one starts a new write (its range does not follow).
      fail([i], e);
      write();
      return;
    }
    joined.push(i);
    filled += bytes;
  });
  write();
  failed.sort((a, b) => a - b);
  return error === undefined ? { failed } : { failed, error };
}

function release(): void {
  for (const fd of fds.values()) closeSync(fd);
  fds.clear();
  buffered.clear();
  if (buffer.length > joinBytes) buffer = alignedBuffer(joinBytes);
}

parentPort?.on("message", (req: MoverRequest) => {
  if (req.kind === "release") {
    let error: string | undefined;
    try {
      release();
    } catch (e: unknown) {
      error = e instanceof Error ? e.message : String(e);
    }
    parentPort?.postMessage({ id: req.id, failed: [], ...(error === undefined ? {} : { error }) } satisfies MoverReply);
    return;
  }
  parentPort?.postMessage({ id: req.id, ...moveAll(req.moves) } satisfies MoverReply);
});
