// Cache compaction: what an informer keeps of each object it decodes. With 10,000 copies in the caches, most of
// the operator's heap was three things nobody reads: managedFields entries of other managers (a kubectl or
// client "Update" entry with its whole fieldsV1 tree per object), kubectl's last-applied-configuration
// annotation (a second copy of the spec), and the same short strings ("arraycopy.io/v1alpha1", "True",
// "ClassNotFound", a timestamp shared by every object written in that second) allocated once per object.
// controller-runtime strips managedFields from its caches for the same reason (cache.TransformStripManagedFields).
//
// Invariants:
// - Only what no reader needs is dropped: managedFields entries the `keepManagedFields` predicate refuses (the
//   status writer needs its own Apply entries to know which fields it owns), and the last-applied annotation.
//   The annotations map itself stays when it was present, even emptied, so a JSON patch that adds one key to it
//   still adds a key instead of replacing the server's whole map.
// - Kept managedFields entries keep manager, operation, subresource and their fieldsV1 tree down to the depth the
//   status writer reads (see `fieldsDepth`).
// - Interning never changes a value, only which string instance holds it; per-object identities (uid,
//   resourceVersion, name) are not interned, and the table is bounded: when full it starts over.
// - The object is compacted in place (it is fresh from JSON.parse) and returned.

import type { ManagedFieldsEntry } from "./status.ts";

export const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration";

/** A bounded table of string instances, so equal strings from many objects share one. */
export class StringInterner {
  readonly #table = new Map<string, string>();
  readonly #max: number;
  readonly #maxLength: number;

  constructor(opts: { readonly maxEntries?: number; readonly maxLength?: number } = {}) {
    this.#max = opts.maxEntries ?? 65_536;
    this.#maxLength = opts.maxLength ?? 256;
  }

  intern(s: string): string {
    if (s.length > this.#maxLength) return s;
    const seen = this.#table.get(s);
    if (seen !== undefined) return seen;
    if (this.#table.size >= this.#max) this.#table.clear();
    this.#table.set(s, s);
    return s;
  }

  get size(): number {
    return this.#table.size;
  }
}

export interface CompactOptions {
  readonly interner: StringInterner;
  /** Which managedFields entries to keep, by manager, operation and subresource: it is not given fieldsV1. */
  readonly keepManagedFields: (entry: Omit<ManagedFieldsEntry, "fieldsV1">) => boolean;
}

/** Metadata values unique to one object: interning them would only fill the table. */
const uniqueMetadata = new Set(["uid", "resourceVersion", "name", "generateName", "selfLink"]);

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function internDeep(v: unknown, interner: StringInterner): unknown {
  if (typeof v === "string") return interner.intern(v);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) v[i] = internDeep(v[i], interner);
    return v;
  }
  if (isRecord(v)) {
    for (const k of Object.keys(v)) v[k] = internDeep(v[k], interner);
  }
  return v;
}

/**
 * How deep a kept managedFields entry's fieldsV1 tree stays: f:status → f:<field> | f:conditions → k:{"type":…},
 * which is all the status writer reads of it (which fields and condition types it owns). Below that, every
 * subtree is one shared empty object: a condition's own field set is 7 empty objects per condition per object.
 */
const fieldsDepth = 3;
const leaf: Readonly<Record<string, unknown>> = Object.freeze({});

function pruneFields(tree: unknown, depth: number): unknown {
  if (!isRecord(tree)) return tree;
  if (depth === 0) return leaf;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(tree)) out[k] = pruneFields(v, depth - 1);
  return out;
}

function compactManagedFields(
  entries: unknown,
  keep: (entry: ManagedFieldsEntry) => boolean,
  interner: StringInterner,
): ManagedFieldsEntry[] {
  if (!Array.isArray(entries)) return [];
  const out: ManagedFieldsEntry[] = [];
  for (const e of entries) {
    if (!isRecord(e)) continue;
    const entry: Omit<ManagedFieldsEntry, "fieldsV1"> = {
      manager: typeof e["manager"] === "string" ? interner.intern(e["manager"]) : undefined,
      operation: typeof e["operation"] === "string" ? interner.intern(e["operation"]) : undefined,
      subresource: typeof e["subresource"] === "string" ? interner.intern(e["subresource"]) : undefined,
    };
    // Decided on the entry's identity before its field tree is copied: most entries are dropped (the creating
    // client's, the finalizer policy's), and copying their trees only to drop them showed in the operator's
    // allocation profile.
    if (keep(entry)) out.push({ ...entry, fieldsV1: pruneFields(e["fieldsV1"], fieldsDepth) });
  }
  return out;
}

/** Compacts a decoded API object in place for the cache (see the invariants above); non-objects pass through. */
export function compactObject(raw: unknown, opts: CompactOptions): unknown {
  if (!isRecord(raw)) return raw;
  for (const k of Object.keys(raw)) {
    if (k !== "metadata") raw[k] = internDeep(raw[k], opts.interner);
  }
  const meta = raw["metadata"];
  if (!isRecord(meta)) return raw;
  for (const k of Object.keys(meta)) {
    const v = meta[k];
    if (k === "managedFields") {
      const kept = compactManagedFields(v, opts.keepManagedFields, opts.interner);
      if (kept.length === 0) delete meta["managedFields"];
      else meta[k] = kept;
    } else if (k === "annotations" && isRecord(v)) {
      Reflect.deleteProperty(v, lastAppliedAnnotation);
      internDeep(v, opts.interner);
    } else if (!uniqueMetadata.has(k)) {
      meta[k] = internDeep(v, opts.interner);
    }
  }
  return raw;
}
