// The source side of the data path (protocol.ts): the operator offers a copy's bytes to the one populator that
// holds the population's token. A grant reads through the engine's volume API, chunk by chunk, so memory stays at
// one chunk per request in flight whatever the copy's size. It is served over TLS only (1.3), with the certificate
// this process made at start: populator pods pin it (--ca-file), so the bytes and the token are never in clear.
import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import {
  chunkPath,
  chunkRange,
  etagOf,
  isZero,
  manifestFor,
  manifestPath,
  pathPrefix,
  zeroHeader,
} from "./protocol.ts";
import type { Manifest } from "./protocol.ts";

/** What a grant serves: one volume's bytes, read at byte offsets. */
export interface GrantSource {
  readonly sizeBytes: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export interface Grant {
  /** Names the population in logs and metrics (the PVC's namespace/name). */
  readonly population: string;
  readonly manifest: Manifest;
  readonly source: GrantSource;
}

export interface ServedChunk {
  readonly population: string;
  readonly index: number;
  readonly outcome: "sent" | "matched" | "zero";
}

/** Tokens are kept only as their SHA-256, compared in constant time. */
const keyOf = (token: string): Buffer => createHash("sha256").update(token).digest();

export class PopulationGrants {
  readonly #grants = new Map<string, { key: Buffer; grant: Grant }>();
  readonly #onChunk: ((c: ServedChunk) => void) | undefined;

  constructor(opts: { onChunk?: (c: ServedChunk) => void } = {}) {
    this.#onChunk = opts.onChunk;
  }

  /** Offers `source` to the bearer of `token`; a grant given again with the same token replaces the first. */
  grant(token: string, population: string, source: GrantSource, chunkBytes?: number): void {
    const key = keyOf(token);
    this.#grants.set(key.toString("hex"), {
      key,
      grant: { population, source, manifest: manifestFor(source.sizeBytes, chunkBytes) },
    });
  }

  revoke(token: string): void {
    this.#grants.delete(keyOf(token).toString("hex"));
  }

  get size(): number {
    return this.#grants.size;
  }

  #find(req: IncomingMessage): Grant | undefined {
    const m = /^Bearer (\S+)$/.exec(req.headers.authorization ?? "");
    if (m?.[1] === undefined) return undefined;
    const key = keyOf(m[1]);
    const found = this.#grants.get(key.toString("hex"));
    return found !== undefined && timingSafeEqual(found.key, key) ? found.grant : undefined;
  }

  /** Serves a request under /populate/v1; false for any other path (the caller's other routes). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    if (!path.startsWith(`${pathPrefix}/`)) return false;
    if (req.method !== "GET") {
      reply(res, 405, "only GET is served");
      return true;
    }
    const grant = this.#find(req);
    if (grant === undefined) {
      reply(res, 401, "no population holds this token");
      return true;
    }
    if (path === manifestPath) {
      res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(grant.manifest));
      return true;
    }
    const index = Number(/^\/populate\/v1\/chunks\/(\d+)$/.exec(path)?.[1] ?? Number.NaN);
    if (!Number.isSafeInteger(index) || index >= grant.manifest.chunks || path !== chunkPath(index)) {
      reply(res, 404, `no such chunk (the copy has ${grant.manifest.chunks})`);
      return true;
    }
    const { offset, length } = chunkRange(grant.manifest, index);
    grant.source.read(offset, length).then(
      (bytes) => {
        const etag = etagOf(bytes);
        if (req.headers["if-none-match"] === etag) {
          res.writeHead(304, { etag }).end();
          this.#onChunk?.({ population: grant.population, index, outcome: "matched" });
        } else if (isZero(bytes)) {
          res.writeHead(200, { etag, [zeroHeader]: "zero", "content-length": "0" }).end();
          this.#onChunk?.({ population: grant.population, index, outcome: "zero" });
        } else {
          res
            .writeHead(200, { etag, "content-type": "application/octet-stream", "content-length": bytes.length })
            .end(bytes);
          this.#onChunk?.({ population: grant.population, index, outcome: "sent" });
        }
      },
      (e: unknown) => {
        // The engine cannot read now (closing, array unreachable): the populator retries.
        reply(res, 503, `cannot read the copy: ${e instanceof Error ? e.message : String(e)}`);
      },
    );
    return true;
  }
}

function reply(res: ServerResponse, status: number, message: string): void {
  res.writeHead(status, { "content-type": "text/plain" }).end(`${message}\n`);
}

/** The data path's certificate and key (PEM): kube/self-signed.ts makes them at start. */
export interface ServerIdentity {
  readonly cert: string;
  readonly key: string;
}

/** A server of its own for the data path (the operator's is on its own port, apart from /metrics), HTTPS only. */
export async function startPopulationServer(
  port: number,
  grants: PopulationGrants,
  identity: ServerIdentity,
  host?: string,
): Promise<{ server: Server; port: number }> {
  const server = createServer({ cert: identity.cert, key: identity.key, minVersion: "TLSv1.3" }, (req, res) => {
    if (!grants.handle(req, res)) reply(res, 404, "not found");
  });
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
