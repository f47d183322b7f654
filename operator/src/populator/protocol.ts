// The populator's data path on the wire: a copy's bytes are offered in fixed chunks, each named by its SHA-256,
// so a writer that already holds a chunk (a volume written before the operator restarted, or zeros on a fresh
// volume) confirms it with a conditional request and moves nothing. No state is kept on either side between
// attempts: resuming is comparing.
//
//   GET /populate/v1/manifest            → 200 {sizeBytes, chunkBytes, chunks}
//   GET /populate/v1/chunks/<index>      → 200 the chunk's bytes, ETag "sha256:<hex>"
//       If-None-Match: "sha256:<hex>"    → 304 when the writer's chunk is already the copy's
//                                        → 200 with no body and `Arraycopy-Chunk: zero` when the chunk is all zeros
//
// Every request carries `Authorization: Bearer <token>`: a grant names one volume of one engine, for one
// population. 401 is a token the source does not know (final), 503 a source that cannot serve now (retried).
import { createHash } from "node:crypto";
import { z } from "zod";

export const pathPrefix = "/populate/v1";
export const manifestPath = `${pathPrefix}/manifest`;
export const chunkPath = (index: number): string => `${pathPrefix}/chunks/${index}`;
export const zeroHeader = "arraycopy-chunk";

/** 1 MiB: large enough that a request's overhead is small beside its bytes, small enough to hold a few in memory. */
export const defaultChunkBytes = 1024 * 1024;

export const manifestSchema = z.object({
  sizeBytes: z.number().int().nonnegative(),
  chunkBytes: z
    .number()
    .int()
    .positive()
    .max(64 * 1024 * 1024),
  chunks: z.number().int().nonnegative(),
});
export type Manifest = z.infer<typeof manifestSchema>;

export function manifestFor(sizeBytes: number, chunkBytes = defaultChunkBytes): Manifest {
  return { sizeBytes, chunkBytes, chunks: Math.ceil(sizeBytes / chunkBytes) };
}

/** The byte range of chunk `index`; the last one may be short. */
export function chunkRange(m: Manifest, index: number): { readonly offset: number; readonly length: number } {
  const offset = index * m.chunkBytes;
  return { offset, length: Math.min(m.chunkBytes, m.sizeBytes - offset) };
}

let zeros = Buffer.alloc(0);

/** True when every byte is 0 (a native comparison with a zero buffer of the same length). */
export function isZero(bytes: Uint8Array): boolean {
  if (zeros.length < bytes.length) zeros = Buffer.alloc(bytes.length);
  return Buffer.compare(bytes, zeros.subarray(0, bytes.length)) === 0;
}

const zeroTags = new Map<number, string>();

/** A chunk's ETag, `"sha256:<hex>"`. Chunks of zeros (fresh volumes, holes) are recognised, not hashed. */
export function etagOf(bytes: Uint8Array): string {
  if (!isZero(bytes)) return `"sha256:${createHash("sha256").update(bytes).digest("hex")}"`;
  let tag = zeroTags.get(bytes.length);
  if (tag === undefined) {
    tag = `"sha256:${createHash("sha256").update(bytes).digest("hex")}"`;
    zeroTags.set(bytes.length, tag);
  }
  return tag;
}

/**
 * The population's digest: SHA-256 over the chunks' ETags in order. Both ends can compute it from what they
 * checked, so the writer's result can be compared with the source without reading the volume twice.
 */
export class VolumeDigest {
  readonly #tags: string[];
  constructor(chunks: number) {
    this.#tags = new Array<string>(chunks).fill("");
  }
  set(index: number, etag: string): void {
    this.#tags[index] = etag;
  }
  complete(): boolean {
    return this.#tags.every((t) => t !== "");
  }
  digest(): string {
    const h = createHash("sha256");
    for (const t of this.#tags) h.update(t).update("\n");
    return `sha256:${h.digest("hex")}`;
  }
}
