// The catalog in memory: records by key, the indexes the engine's lookups need, and what changed since the last
// commit. Persisted as a full image (meta.json, the Catalog format) plus a journal of deltas (core.ts): a commit
// writes only the records that changed, so its cost follows the change, not the catalog's size.
//
// Owns: every node, copy, job and volume set record, and the counters. Records are handed out as tracked proxies:
// assigning a field (at any depth) marks the record's key changed, so an operation changes a record in place as it
// always did and the next delta holds it. Membership goes through the methods here.
//
// Invariants:
// - Maps keep insertion order, which is the image's array order; a record replaced in place keeps its position,
//   one removed and added again goes last, in memory and on replay alike (a delta says "removed" before "put").
// - A delta holds, for each key changed since the last one, the record as it is when the delta is taken (or its
//   removal), and always the three counters. Applying the deltas in order to the image they follow gives the
//   catalog as it was when the last was taken; `image()` after `apply()` is byte-for-byte the live image.
// - `expiryHint` is never later than any user node's expiresAt (it may be earlier: a due scan that finds nothing
//   moves it on).
import type { Catalog, CopyRecord, JobRecord, NodeRecord, VolumeSetRecord } from "./catalog.ts";

type Kind = "nodes" | "copies" | "jobs" | "volumeSets";
const kinds: readonly Kind[] = ["nodes", "copies", "jobs", "volumeSets"];
interface RecordOf {
  nodes: NodeRecord;
  copies: CopyRecord;
  jobs: JobRecord;
  volumeSets: VolumeSetRecord;
}
const keyOf = <K extends Kind>(kind: K, record: RecordOf[K]): string =>
  kind === "jobs" ? (record as JobRecord).id : (record as { name: string }).name;

/** One change in a delta: a record put (added or replaced) or, with `null`, removed. */
type Change = readonly [Kind, string, unknown];

interface Delta {
  readonly nextId: number;
  readonly nextSeq: number;
  readonly nextJob: number;
  readonly changes: readonly Change[];
}

const tracked = new WeakSet<object>();

function isPlainValue(v: unknown): v is object {
  return typeof v === "object" && v !== null && !tracked.has(v);
}

/** Wraps `value` (and the objects and arrays in it) so that any assignment or deletion calls `changed`. */
function track<T extends object>(value: T, changed: (prop: string | symbol, v: unknown) => void): T {
  const target = value as Record<string | symbol, unknown>;
  for (const k of Object.keys(target)) {
    const v = target[k];
    if (isPlainValue(v)) target[k] = track(v, changed);
  }
  const proxy = new Proxy(target, {
    set(t, prop, v: unknown) {
      t[prop] = isPlainValue(v) ? track(v, changed) : v;
      changed(prop, v);
      return true;
    },
    deleteProperty(t, prop) {
      const had = Reflect.deleteProperty(t, prop);
      changed(prop, undefined);
      return had;
    },
  });
  tracked.add(proxy);
  return proxy as T;
}

export class CatalogState {
  nextId: number;
  nextSeq: number;
  nextJob: number;
  readonly #maps: { [K in Kind]: Map<string, RecordOf[K]> } = {
    nodes: new Map(),
    copies: new Map(),
    jobs: new Map(),
    volumeSets: new Map(),
  };
  /** parent name → its children by name (creation order). */
  readonly #children = new Map<string, Map<string, NodeRecord>>();
  readonly #internal = new Set<string>();
  /** copy name → its job with the highest id. */
  readonly #lastJob = new Map<string, JobRecord>();
  /** Keys changed since the last delta: "kind\0key" → removed at some point since. */
  #changed = new Map<string, { readonly kind: Kind; readonly key: string; removed: boolean }>();
  #counters: readonly [number, number, number];
  expiryHint = Number.POSITIVE_INFINITY;

  private constructor(catalog: Catalog) {
    this.nextId = catalog.nextId;
    this.nextSeq = catalog.nextSeq;
    this.nextJob = catalog.nextJob;
    for (const n of catalog.nodes) this.#insert("nodes", n);
    for (const c of catalog.copies) this.#insert("copies", c);
    for (const j of catalog.jobs) this.#insert("jobs", j);
    for (const s of catalog.volumeSets ?? []) this.#insert("volumeSets", s);
    this.#changed.clear();
    this.#counters = [this.nextId, this.nextSeq, this.nextJob];
  }

  static from(catalog: Catalog): CatalogState {
    return new CatalogState(catalog);
  }

  node(name: string): NodeRecord | undefined {
    return this.#maps.nodes.get(name);
  }

  copy(name: string): CopyRecord | undefined {
    return this.#maps.copies.get(name);
  }

  job(id: string): JobRecord | undefined {
    return this.#maps.jobs.get(id);
  }

  volumeSet(name: string): VolumeSetRecord | undefined {
    return this.#maps.volumeSets.get(name);
  }

  nodes(): IterableIterator<NodeRecord> {
    return this.#maps.nodes.values();
  }

  copies(): IterableIterator<CopyRecord> {
    return this.#maps.copies.values();
  }

  jobs(): IterableIterator<JobRecord> {
    return this.#maps.jobs.values();
  }

  volumeSets(): IterableIterator<VolumeSetRecord> {
    return this.#maps.volumeSets.values();
  }

  get jobCount(): number {
    return this.#maps.jobs.size;
  }

  /** The nodes whose parent is `name`, in creation order. */
  children(name: string): NodeRecord[] {
    const of = this.#children.get(name);
    return of === undefined ? [] : [...of.values()];
  }

  hasChildren(name: string): boolean {
    return (this.#children.get(name)?.size ?? 0) > 0;
  }

  /** Engine-made snapshots, in creation order. */
  internalNodes(): NodeRecord[] {
    return [...this.#internal].flatMap((n) => this.#maps.nodes.get(n) ?? []);
  }

  lastJob(copy: string): JobRecord | undefined {
    return this.#lastJob.get(copy);
  }

  /** Adds a record (or replaces the one under its key, in place); returns the tracked record to use from then on. */
  put<K extends Kind>(kind: K, record: RecordOf[K]): RecordOf[K] {
    const key = keyOf(kind, record);
    const appended = !this.#maps[kind].has(key);
    if (!appended) this.#unindex(kind, key);
    const stored = this.#insert(kind, record);
    this.#mark(kind, key, false, appended);
    return stored;
  }

  remove(kind: Kind, key: string): void {
    if (!this.#maps[kind].has(key)) return;
    this.#unindex(kind, key);
    this.#maps[kind].delete(key);
    this.#mark(kind, key, true);
  }

  /** Removes the jobs `drop` picks, except an existing copy's last job (an idempotent create returns it). */
  dropJobs(drop: (j: JobRecord) => boolean): number {
    let dropped = 0;
    for (const j of [...this.#maps.jobs.values()]) {
      if ((this.#lastJob.get(j.copy) === j && this.#maps.copies.has(j.copy)) || !drop(j)) continue;
      this.remove("jobs", j.id);
      dropped++;
    }
    return dropped;
  }

  /** The whole catalog, as meta.json holds it; `journal` names the generation of the journal that follows it. */
  image(journal: number): string {
    return JSON.stringify({
      version: 1,
      nextId: this.nextId,
      nextSeq: this.nextSeq,
      nextJob: this.nextJob,
      nodes: [...this.#maps.nodes.values()],
      copies: [...this.#maps.copies.values()],
      jobs: [...this.#maps.jobs.values()],
      volumeSets: [...this.#maps.volumeSets.values()],
      journal,
    });
  }

  /** What changed since the last delta, as one journal payload; undefined when nothing did. */
  takeDelta(): string | undefined {
    const counters = [this.nextId, this.nextSeq, this.nextJob] as const;
    const same = counters.every((c, i) => c === this.#counters[i]);
    if (this.#changed.size === 0 && same) return undefined;
    const changes: Change[] = [];
    for (const { kind, key, removed } of this.#changed.values()) {
      const now = this.#maps[kind].get(key);
      if (removed) changes.push([kind, key, null]);
      if (now !== undefined) changes.push([kind, key, now]);
    }
    this.#changed = new Map();
    this.#counters = counters;
    const delta: Delta = { nextId: counters[0], nextSeq: counters[1], nextJob: counters[2], changes };
    return JSON.stringify(delta);
  }

  /** Replays one delta (at open, in journal order). */
  apply(payload: string): void {
    const delta = JSON.parse(payload) as Delta;
    for (const [kind, key, record] of delta.changes) {
      if (!kinds.includes(kind)) throw new Error(`journal names an unknown kind ${kind as string}`);
      if (record === null) this.remove(kind, key);
      else this.put(kind, record as RecordOf[typeof kind]);
    }
    this.nextId = delta.nextId;
    this.nextSeq = delta.nextSeq;
    this.nextJob = delta.nextJob;
    this.#changed.clear();
    this.#counters = [this.nextId, this.nextSeq, this.nextJob];
  }

  #insert<K extends Kind>(kind: K, record: RecordOf[K]): RecordOf[K] {
    const key = keyOf(kind, record);
    const stored = tracked.has(record)
      ? record
      : track(record, (prop, v) => {
          this.#mark(kind, key, false);
          if (kind === "nodes" && prop === "expiresAt" && typeof v === "number") this.#lowerExpiry(v);
        });
    (this.#maps[kind] as Map<string, RecordOf[K]>).set(key, stored);
    if (kind === "nodes") {
      const n = stored as NodeRecord;
      if (n.parent !== undefined) {
        let of = this.#children.get(n.parent);
        if (of === undefined) this.#children.set(n.parent, (of = new Map<string, NodeRecord>()));
        of.set(n.name, n);
      }
      if (n.internal) this.#internal.add(n.name);
      if (n.expiresAt !== undefined && !n.internal) this.#lowerExpiry(n.expiresAt);
    } else if (kind === "jobs") {
      const j = stored as JobRecord;
      const last = this.#lastJob.get(j.copy);
      if (last === undefined || Number(j.id) > Number(last.id)) this.#lastJob.set(j.copy, j);
    }
    return stored;
  }

  #unindex(kind: Kind, key: string): void {
    if (kind === "nodes") {
      const n = this.#maps.nodes.get(key);
      if (n?.parent !== undefined) {
        const of = this.#children.get(n.parent);
        of?.delete(key);
        if (of?.size === 0) this.#children.delete(n.parent);
      }
      this.#internal.delete(key);
    } else if (kind === "jobs") {
      const j = this.#maps.jobs.get(key);
      if (j !== undefined && this.#lastJob.get(j.copy) === j) {
        this.#lastJob.delete(j.copy);
        for (const other of this.#maps.jobs.values()) {
          if (other === j || other.copy !== j.copy) continue;
          const last = this.#lastJob.get(j.copy);
          if (last === undefined || Number(other.id) > Number(last.id)) this.#lastJob.set(j.copy, other);
        }
      }
    }
  }

  /** `appended`: the key goes last in its map, so its change moves last too (replay appends in delta order). */
  #mark(kind: Kind, key: string, removed: boolean, appended = false): void {
    const id = `${kind}\0${key}`;
    const seen = this.#changed.get(id);
    if (seen !== undefined && appended) this.#changed.delete(id);
    if (seen === undefined || appended) {
      this.#changed.set(id, { kind, key, removed: removed || (seen?.removed ?? false) });
    } else if (removed) seen.removed = true;
  }

  #lowerExpiry(at: number): void {
    if (at < this.expiryHint) this.expiryHint = at;
  }
}
