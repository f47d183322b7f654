// The writer side of the data path (protocol.ts), run by the populator pod: it makes a block device or a file hold
// a copy's bytes. For each chunk it hashes what the target holds already and asks the source with If-None-Match,
// so only chunks that differ cross the wire: zeros on a fresh volume and everything written before an
// interruption are confirmed, not sent again. Memory is two chunk buffers per request in flight; the target is
// flushed once, at the end. The source is reached over TLS only, and trusted only with the one certificate the
// population was given (the operator's, made at start and pinned through the pod's Secret): any other server at the
// same address — an operator restarted since, a new leader, an impostor — is refused before anything is written.
import { type FileHandle, open } from "node:fs/promises";
import type http from "node:http";
import https from "node:https";
import { certFingerprint } from "../kube/self-signed.ts";
import { setTimeout as sleep } from "node:timers/promises";
import { chunkPath, chunkRange, etagOf, manifestPath, manifestSchema, VolumeDigest, zeroHeader } from "./protocol.ts";
import type { Manifest } from "./protocol.ts";

export interface PopulateOptions {
  /** The source's base URL: https://host:port */
  readonly source: string;
  readonly token: string;
  /** A block device or a regular file; a file shorter than the copy is extended (sparse). */
  readonly target: string;
  /** Requests in flight (default 4). */
  readonly concurrency?: number;
  /** How long the source may stay unreachable before the populate gives up (default 10 minutes). */
  readonly unreachableMs?: number;
  /** The source's certificate (PEM), pinned: the only one trusted. */
  readonly ca: string;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: PopulateProgress) => void;
}

export interface PopulateProgress {
  readonly chunks: number;
  readonly done: number;
  /** Chunks whose bytes crossed the wire. */
  readonly sent: number;
  /** Chunks the target already held (confirmed by hash). */
  readonly matched: number;
  /** Chunks of zeros written without their bytes crossing the wire. */
  readonly zeroed: number;
}

export interface PopulateResult extends PopulateProgress {
  readonly sizeBytes: number;
  readonly bytesWritten: number;
  /** SHA-256 over the chunks' hashes in order (protocol.ts VolumeDigest): what the target now holds. */
  readonly digest: string;
}

/** A refusal that trying again will not change: a bad token, a target too small, a chunk the source lacks. */
export class PopulateError extends Error {
  readonly final: boolean;
  constructor(message: string, final: boolean) {
    super(message);
    this.name = "PopulateError";
    this.final = final;
  }
}

interface Reply {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  /** Bytes of the body, read into the caller's buffer. */
  readonly length: number;
}

/** What OpenSSL and node call a server certificate the client does not trust for the address it dialled. */
const untrusted = new Set([
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "CERT_SIGNATURE_FAILURE",
  "CERT_NOT_YET_VALID",
  "CERT_HAS_EXPIRED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "INVALID_CA",
  "HOSTNAME_MISMATCH",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

class Source {
  readonly #base: URL;
  readonly #token: string;
  readonly #agent: https.Agent;
  /** The pinned certificate's fingerprint, for messages. */
  readonly #pinned: string;
  readonly #unreachableMs: number;
  readonly #signal: AbortSignal | undefined;

  constructor(opts: PopulateOptions, sockets: number) {
    this.#base = new URL(opts.source);
    if (this.#base.protocol !== "https:")
      throw new PopulateError(
        `the source ${opts.source} is not an https:// URL: the data path is served over TLS`,
        true,
      );
    try {
      this.#pinned = certFingerprint(opts.ca);
    } catch (e: unknown) {
      throw new PopulateError(`the source's certificate to pin is not a PEM certificate: ${String(e)}`, true);
    }
    this.#token = opts.token;
    this.#unreachableMs = opts.unreachableMs ?? 10 * 60_000;
    this.#signal = opts.signal;
    this.#agent = new https.Agent({ keepAlive: true, maxSockets: sockets, ca: opts.ca, minVersion: "TLSv1.3" });
  }

  /** A TLS failure that means this is not the population's server: final, and nothing is sent or written. */
  #refusal(e: unknown): PopulateError | undefined {
    const code = (e as NodeJS.ErrnoException | undefined)?.code ?? "";
    const message = e instanceof Error ? e.message : String(e);
    if (untrusted.has(code))
      return new PopulateError(
        `the source ${this.#base.origin} is not the server this population was given: it does not hold the ` +
          `pinned certificate (${this.#pinned}) for that address (${code}: ${message})`,
        true,
      );
    // OpenSSL's answer to a first record that is not TLS (a plain HTTP server); node gives it no code of its own.
    if (code === "EPROTO" && /wrong version number|packet length too long/.test(message))
      return new PopulateError(`the source ${this.#base.origin} does not speak TLS (${code}: ${message})`, true);
    return undefined;
  }

  close(): void {
    this.#agent.destroy();
  }

  /** GET with retries while the source is unreachable or unavailable (an operator restarting, a leader moving). */
  async get(path: string, headers: Record<string, string>, into: Buffer): Promise<Reply> {
    let lastOk = Date.now();
    for (let attempt = 0; ; attempt++) {
      this.#signal?.throwIfAborted();
      try {
        const r = await this.#once(path, headers, into);
        if (r.status !== 503 && r.status < 500) return r;
        throw new Error(`the source answered ${r.status}: ${into.subarray(0, r.length).toString("utf8").trim()}`);
      } catch (e: unknown) {
        if (e instanceof PopulateError) throw e;
        const refused = this.#refusal(e);
        if (refused !== undefined) throw refused;
        if (Date.now() - lastOk > this.#unreachableMs)
          throw new PopulateError(
            `the source ${this.#base.origin} was unreachable for ${Math.round(this.#unreachableMs / 1000)} s: ` +
              String(e),
            false,
          );
        if (attempt === 0) lastOk = Date.now();
        await sleep(Math.min(10_000, 200 * 2 ** Math.min(attempt, 6)), undefined, { signal: this.#signal });
      }
    }
  }

  #once(path: string, headers: Record<string, string>, into: Buffer): Promise<Reply> {
    return new Promise<Reply>((resolve, reject) => {
      const req = https.get(
        new URL(path, this.#base),
        {
          agent: this.#agent,
          headers: { ...headers, authorization: `Bearer ${this.#token}` },
          ...(this.#signal === undefined ? {} : { signal: this.#signal }),
        },
        (res) => {
          let length = 0;
          let overflow = false;
          res.on("data", (piece: Buffer) => {
            if (length + piece.length > into.length) overflow = true;
            else piece.copy(into, length);
            length += piece.length;
          });
          res.on("error", reject);
          res.on("end", () => {
            if (overflow) reject(new PopulateError(`the source sent ${length} bytes, more than a chunk`, true));
            else resolve({ status: res.statusCode ?? 0, headers: res.headers, length });
          });
        },
      );
      req.on("error", reject);
    });
  }
}

async function fetchManifest(src: Source): Promise<Manifest> {
  const buf = Buffer.allocUnsafe(64 * 1024);
  const r = await src.get(manifestPath, {}, buf);
  const text = buf.subarray(0, r.length).toString("utf8");
  if (r.status === 401) throw new PopulateError("the source does not know this population's token", true);
  if (r.status !== 200) throw new PopulateError(`the source refused the manifest (${r.status}): ${text.trim()}`, true);
  const parsed = manifestSchema.safeParse(JSON.parse(text));
  if (!parsed.success) throw new PopulateError(`the source sent a malformed manifest: ${parsed.error.message}`, true);
  return parsed.data;
}

/** Makes the target at least the copy's size: a file is extended; a block device must be large enough. */
async function prepareTarget(fh: FileHandle, target: string, m: Manifest): Promise<void> {
  const st = await fh.stat();
  if (st.isFile()) {
    if (st.size < m.sizeBytes) await fh.truncate(m.sizeBytes);
    return;
  }
  if (!st.isBlockDevice()) throw new PopulateError(`${target} is neither a block device nor a file`, true);
  if (m.sizeBytes === 0) return;
  const probe = Buffer.alloc(1);
  const { bytesRead } = await fh.read(probe, 0, 1, m.sizeBytes - 1);
  if (bytesRead !== 1)
    throw new PopulateError(`${target} is smaller than the copy (${m.sizeBytes} bytes): it cannot hold it`, true);
}

/** Makes `target` hold the source's bytes; resumable by running it again (nothing already there is sent again). */
export async function populate(opts: PopulateOptions): Promise<PopulateResult> {
  const concurrency = Math.max(1, Math.min(64, opts.concurrency ?? 4));
  const src = new Source(opts, concurrency);
  const fh = await open(opts.target, "r+");
  try {
    const m = await fetchManifest(src);
    await prepareTarget(fh, opts.target, m);
    const digest = new VolumeDigest(m.chunks);
    const progress = { chunks: m.chunks, done: 0, sent: 0, matched: 0, zeroed: 0 };
    let bytesWritten = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      const held = Buffer.allocUnsafe(m.chunkBytes);
      const got = Buffer.allocUnsafe(m.chunkBytes);
      for (let index = next++; index < m.chunks; index = next++) {
        const { offset, length } = chunkRange(m, index);
        const mine = held.subarray(0, length);
        const { bytesRead } = await fh.read(mine, 0, length, offset);
        mine.fill(0, bytesRead);
        const etag = etagOf(mine);
        const r = await src.get(chunkPath(index), { "if-none-match": etag }, got);
        const theirs = r.headers.etag;
        if (r.status === 304) {
          digest.set(index, etag);
          progress.matched++;
        } else if (r.status === 200 && typeof theirs === "string") {
          let bytes: Buffer;
          if (r.headers[zeroHeader] === "zero") {
            bytes = mine.fill(0);
            progress.zeroed++;
          } else {
            bytes = got.subarray(0, r.length);
            if (r.length !== length)
              throw new PopulateError(`chunk ${index}: the source sent ${r.length} bytes of ${length}`, false);
            progress.sent++;
          }
          if (etagOf(bytes) !== theirs)
            throw new PopulateError(`chunk ${index} does not match its hash ${theirs}: corrupted in transit`, false);
          await writeAll(fh, bytes, offset);
          bytesWritten += bytes.length;
          digest.set(index, theirs);
        } else if (r.status === 401) {
          throw new PopulateError("the source no longer knows this population's token", true);
        } else {
          throw new PopulateError(`chunk ${index}: the source answered ${r.status}`, true);
        }
        progress.done++;
        opts.onProgress?.({ ...progress });
      }
    };
    // The first failure stops the other workers before they take another chunk; the populate fails with it once
    // every write in flight has ended (the target is closed after that, never under a write).
    const settled = await Promise.allSettled(
      Array.from({ length: Math.min(concurrency, Math.max(1, m.chunks)) }, () =>
        worker().catch((e: unknown) => {
          next = m.chunks;
          throw e;
        }),
      ),
    );
    const failed = settled.find((s) => s.status === "rejected");
    if (failed !== undefined) throw failed.reason;
    if (!digest.complete()) throw new PopulateError("some chunks were never checked", false);
    await fh.datasync();
    return { ...progress, sizeBytes: m.sizeBytes, bytesWritten, digest: digest.digest() };
  } finally {
    src.close();
    await fh.close();
  }
}

async function writeAll(fh: FileHandle, bytes: Buffer, offset: number): Promise<void> {
  for (let at = 0; at < bytes.length;) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at, offset + at);
    at += bytesWritten;
  }
}
