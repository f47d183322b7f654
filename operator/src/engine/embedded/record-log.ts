// An append-only, checksummed record log: the durable half of every block map (which blocks an overlay holds,
// which old blocks a snapshot saved). Appends are one write plus fdatasync, so a record is either wholly there
// or, after a crash, a torn tail that the scan at open drops (and truncates) because its checksum fails.
// The file is created on the first append, so an empty log costs nothing (virtual-copy creation stays O(1)).
// Appends write zeros ahead of the end (as much again as the log holds, 64 KiB to 4 MiB), so most appends
// overwrite space the file already has and their fdatasync needs no metadata commit. The scan at open stops at
// the zeros (no magic) and cuts them off.
import { constants } from "node:fs";
import { open, type FileHandle } from "node:fs/promises";
import { dirname } from "node:path";
import { crc32 } from "node:zlib";
import { fsyncDirectory } from "./files.ts";

const magic = 0x4143_4c47; // "ACLG"
export const headerBytes = 20;
const maxAhead = 4 * 1024 * 1024;
const zeros = Buffer.alloc(maxAhead);

export interface LogRecord {
  readonly type: number;
  /** A small integer argument (a block number). */
  readonly arg: number;
  readonly payload: Uint8Array;
}

export interface ScannedRecord {
  readonly type: number;
  readonly arg: number;
  /** Where the payload starts in the file, so large payloads can be read back without keeping them. */
  readonly payloadOffset: number;
  readonly payloadLength: number;
  /** Small payloads (≤ 64 KiB of metadata records) are kept; data payloads are read back by offset. */
  readonly payload: Buffer | undefined;
}

function encodeHeader(type: number, arg: number, payload: Uint8Array): Buffer {
  const header = Buffer.alloc(headerBytes);
  header.writeUInt32LE(magic, 0);
  header.writeUInt8(type, 4);
  header.writeUInt32LE(arg, 8);
  header.writeUInt32LE(payload.length, 12);
  header.writeUInt32LE(crc32(payload, crc32(header.subarray(0, 16))), 16);
  return header;
}

export class RecordLog {
  private handle: FileHandle | undefined;
  private end: number;
  /** Bytes the file has (records plus zeros written ahead). */
  private allocated: number;
  /** A closed log never reopens its file (it may have been unlinked): a late reader gets an error instead. */
  private closed = false;
  private readonly path: string;

  private constructor(path: string, handle: FileHandle | undefined, end: number) {
    this.path = path;
    this.handle = handle;
    this.end = end;
    this.allocated = end;
  }

  /** Opens (or finds absent) a log, returning its valid records; a torn tail is cut off. */
  static async open(
    path: string,
    keepPayload: (type: number) => boolean,
  ): Promise<{ log: RecordLog; records: ScannedRecord[] }> {
    let handle: FileHandle;
    try {
      handle = await open(path, constants.O_RDWR);
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code === "ENOENT")
        return { log: new RecordLog(path, undefined, 0), records: [] };
      throw e;
    }
    const size = (await handle.stat()).size;
    const records: ScannedRecord[] = [];
    const header = Buffer.alloc(headerBytes);
    let at = 0;
    for (;;) {
      if (at + headerBytes > size) break;
      await handle.read(header, 0, headerBytes, at);
      const length = header.readUInt32LE(12);
      if (header.readUInt32LE(0) !== magic || at + headerBytes + length > size) break;
      const payload = Buffer.allocUnsafe(length);
      if (length > 0) await handle.read(payload, 0, length, at + headerBytes);
      if (crc32(payload, crc32(header.subarray(0, 16))) !== header.readUInt32LE(16)) break;
      const type = header.readUInt8(4);
      records.push({
        type,
        arg: header.readUInt32LE(8),
        payloadOffset: at + headerBytes,
        payloadLength: length,
        payload: keepPayload(type) ? payload : undefined,
      });
      at += headerBytes + length;
    }
    if (at < size) {
      await handle.truncate(at);
      await handle.datasync();
    }
    return { log: new RecordLog(path, handle, at), records };
  }

  /** A log with no file yet. */
  static empty(path: string): RecordLog {
    return new RecordLog(path, undefined, 0);
  }

  get sizeBytes(): number {
    return this.end;
  }

  /** Appends records durably; returns each record's payload offset. */
  async append(records: readonly LogRecord[]): Promise<number[]> {
    const handle = await this.ensureHandle();
    const parts: Uint8Array[] = [];
    const offsets: number[] = [];
    let at = this.end;
    for (const r of records) {
      parts.push(encodeHeader(r.type, r.arg, r.payload), r.payload);
      offsets.push(at + headerBytes);
      at += headerBytes + r.payload.length;
    }
    if (at > this.allocated) {
      const ahead = Math.min(maxAhead, Math.max(64 * 1024, at));
      parts.push(zeros.subarray(0, ahead));
      this.allocated = at + ahead;
    }
    const expected = parts.reduce((n, p) => n + p.length, 0);
    const { bytesWritten } = await handle.writev(parts, this.end);
    if (bytesWritten !== expected) throw new Error(`short write to ${this.path}`);
    await handle.datasync();
    this.end = at;
    return offsets;
  }

  async read(into: Buffer, intoOffset: number, length: number, fileOffset: number): Promise<void> {
    const handle = await this.ensureHandle();
    const { bytesRead } = await handle.read(into, intoOffset, length, fileOffset);
    if (bytesRead !== length) throw new Error(`short read from ${this.path} at ${fileOffset}`);
  }

  async close(): Promise<void> {
    this.closed = true;
    const handle = this.handle;
    this.handle = undefined;
    await handle?.close();
  }

  private async ensureHandle(): Promise<FileHandle> {
    if (this.handle !== undefined) return this.handle;
    if (this.closed) throw new Error(`log ${this.path} is closed`);
    this.handle = await open(this.path, constants.O_RDWR | constants.O_CREAT, 0o600);
    await fsyncDirectory(dirname(this.path));
    return this.handle;
  }
}
