// How a block of any volume node is found: a node's view is a list of layers consulted in order. A read-only
// snapshot S of N reads S's saved blocks, then those of N's later snapshots (each saved what N overwrote while it
// was the newest), then N itself; an overlay reads its own blocks, then its parent's view, or zeros. Each layer
// carries a limit: past the size a snapshot had when it was taken, the view reads zeros even if its parent grew.
import { Bitmap } from "./bitmap.ts";
import { blockBytes, type NodeRecord } from "./catalog.ts";
import type { RecordLog } from "./record-log.ts";

/** A node's in-memory block maps, rebuilt from its log at open. */
export interface LiveNode {
  record: NodeRecord;
  /** Overlay: blocks held in the data file. */
  readonly alloc: Bitmap;
  /** Delta: block → payload offset in the log, or -1 for a block that was a hole. */
  readonly saved: Map<number, number>;
  readonly log: RecordLog;
  /** Read-only snapshots taken of this node, oldest first. */
  readonly snapshots: LiveNode[];
  /** The snapshot whose log holds copy-on-write records not yet settled onto this node's data file. */
  pendingIn: LiveNode | undefined;
  /** Blocks this node came to hold through unsettled copy-on-write records (their map record is not written yet). */
  readonly pendingAlloc: Bitmap;
  /**
   * A running job's resume point on the node it writes: every block of the job's set below `below` is on this node,
   * flushed and in its block map (written by the job; a reset clears it).
   */
  checkpoint: { readonly job: string; readonly below: number } | undefined;
}

export type Location =
  | { readonly in: "zero" }
  | { readonly in: "data"; readonly node: LiveNode; readonly offset: number }
  | { readonly in: "log"; readonly node: LiveNode; readonly offset: number };

export interface Layer {
  readonly node: LiveNode;
  readonly limit: number;
}

const zero: Location = { in: "zero" };

export function blocksOf(sizeBytes: number): number {
  return Math.ceil(sizeBytes / blockBytes);
}

export function viewOf(node: LiveNode, lookup: (name: string) => LiveNode | undefined, limit = Infinity): Layer[] {
  const own = Math.min(limit, blocksOf(node.record.sizeBytes));
  const parent = node.record.parent === undefined ? undefined : lookup(node.record.parent);
  if (node.record.layout === "overlay") {
    const layers: Layer[] = [{ node, limit: own }];
    return parent === undefined ? layers : layers.concat(viewOf(parent, lookup, own));
  }
  if (parent === undefined) throw new Error(`snapshot ${node.record.name} has no parent`);
  const layers: Layer[] = [];
  for (const sibling of parent.snapshots) {
    if (sibling.record.seq >= node.record.seq) layers.push({ node: sibling, limit: own });
  }
  return layers.concat(viewOf(parent, lookup, own));
}

export function resolve(view: readonly Layer[], block: number): Location {
  for (const { node, limit } of view) {
    if (block >= limit) return zero;
    if (node.record.layout === "overlay") {
      if (node.alloc.has(block)) return { in: "data", node, offset: block * blockBytes };
    } else {
      const at = node.saved.get(block);
      if (at !== undefined) return at < 0 ? zero : { in: "log", node, offset: at };
    }
  }
  return zero;
}

/** Blocks that may hold data in a view: what a sparse-aware copy must visit. */
export function candidates(view: readonly Layer[]): Bitmap {
  const map = new Bitmap();
  const first = view[0];
  if (first === undefined) return map;
  for (const { node, limit } of view) {
    if (node.record.layout === "overlay") {
      for (const r of node.alloc.ranges(limit)) map.setRange(r.start, r.count);
    } else {
      for (const block of node.saved.keys()) if (block < limit) map.set(block);
    }
  }
  return map;
}

/** Blocks of snapshot S's parent written since S was taken: those S and its later siblings saved. */
export function changedSince(snapshot: LiveNode, parent: LiveNode): Bitmap {
  const map = new Bitmap();
  for (const sibling of parent.snapshots) {
    if (sibling.record.seq < snapshot.record.seq) continue;
    for (const block of sibling.saved.keys()) map.set(block);
  }
  return map;
}
