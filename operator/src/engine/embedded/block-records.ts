// The record types of a volume node's log and how they rebuild its in-memory maps at open: an overlay's held
// blocks (alloc, free, reset), a snapshot's saved blocks (saved, savedHole), and the copy-on-write records that
// also carry the new block until a "settled" record says the parent's data file has it (cow, cowHole, redo), and
// a running job's resume point on the node it writes (checkpoint: arg is the block, the payload the job's id).
import type { BlockRange } from "./bitmap.ts";
import type { ScannedRecord } from "./record-log.ts";
import type { LiveNode } from "./view.ts";

export const record = {
  alloc: 1,
  free: 2,
  reset: 3,
  saved: 4,
  savedHole: 5,
  cow: 6,
  cowHole: 7,
  redo: 8,
  settled: 9,
  checkpoint: 10,
} as const;
const redoTypes: readonly number[] = [record.cow, record.cowHole, record.redo];

/** Records whose payload the scan at open keeps (block data is read back by offset). */
export function keepPayload(type: number): boolean {
  return type <= record.reset || type === record.checkpoint;
}

export function encodeRanges(ranges: readonly BlockRange[]): Buffer {
  const out = Buffer.alloc(ranges.length * 8);
  ranges.forEach((r, i) => {
    out.writeUInt32LE(r.start, i * 8);
    out.writeUInt32LE(r.count, i * 8 + 4);
  });
  return out;
}

function* decodeRanges(payload: Buffer): Generator<BlockRange> {
  for (let at = 0; at + 8 <= payload.length; at += 8)
    yield { start: payload.readUInt32LE(at), count: payload.readUInt32LE(at + 4) };
}

export function replay(node: LiveNode, records: readonly ScannedRecord[]): void {
  for (const r of records) {
    if (r.type === record.alloc && r.payload)
      for (const x of decodeRanges(r.payload)) node.alloc.setRange(x.start, x.count);
    else if (r.type === record.free && r.payload)
      for (const x of decodeRanges(r.payload)) node.alloc.clearRange(x.start, x.count);
    else if (r.type === record.reset) {
      node.alloc.clearAll();
      node.checkpoint = undefined;
    } else if (r.type === record.checkpoint && r.payload)
      node.checkpoint = { job: r.payload.toString("utf8"), below: r.arg };
    else if (r.type === record.saved && !node.saved.has(r.arg)) node.saved.set(r.arg, r.payloadOffset);
    else if ((r.type === record.savedHole || r.type === record.cowHole) && !node.saved.has(r.arg))
      node.saved.set(r.arg, -1);
    else if (r.type === record.cow && !node.saved.has(r.arg)) node.saved.set(r.arg, r.payloadOffset);
  }
}

/** Copy-on-write records after the last "settled": their new blocks may not have reached the parent's data file. */
export function unsettled(records: readonly ScannedRecord[]): ScannedRecord[] {
  let last = -1;
  records.forEach((r, i) => {
    if (r.type === record.settled) last = i;
  });
  return records.slice(last + 1).filter((r) => redoTypes.includes(r.type));
}
