// The data mover's thread (mover.ts starts it): copies byte ranges between files with plain synchronous pread and
// pwrite, one move after another, off the engine's event loop. It knows nothing of blocks or views: the copier
// resolves every location under the engine's mutex and sends paths and offsets.
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

const fds = new Map<string, number>();
let buffer = Buffer.allocUnsafe(0);

function fdOf(path: string, write: boolean): number {
  const key = `${write ? "w" : "r"}:${path}`;
  let fd = fds.get(key);
  if (fd === undefined) {
    fd = openSync(path, write ? constants.O_WRONLY : constants.O_RDONLY);
    fds.set(key, fd);
  }
  return fd;
}

function readSegment(s: Segment, into: Buffer, at: number): void {
  const fd = fdOf(s.path, false);
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

function move(m: Move): void {
  const bytes = m.from.reduce((n, s) => n + s.bytes, 0);
  if (buffer.length < bytes) buffer = Buffer.allocUnsafe(bytes);
  let at = 0;
  for (const s of m.from) {
    readSegment(s, buffer, at);
    at += s.bytes;
  }
  const fd = fdOf(m.target, true);
  let done = 0;
  while (done < bytes) done += writeSync(fd, buffer, done, bytes - done, m.at + done);
}

function release(): void {
  for (const fd of fds.values()) closeSync(fd);
  fds.clear();
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
  const failed: number[] = [];
  let error: string | undefined;
  req.moves.forEach((m, i) => {
    try {
      move(m);
    } catch (e: unknown) {
      failed.push(i);
      error ??= e instanceof Error ? e.message : String(e);
    }
  });
  parentPort?.postMessage({ id: req.id, failed, ...(error === undefined ? {} : { error }) } satisfies MoverReply);
});
