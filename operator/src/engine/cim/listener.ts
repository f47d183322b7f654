// The CIM indication listener (DSP0200 export): one HTTPS server per operator process that SMI-S providers POST
// EXPORTMETHODCALL ExportIndication to. Each cim engine registers a handler and gets a path with a secret token,
// /cimlistener/<token>, which goes into its CIM_ListenerDestinationCIMXML's Destination: a provider can present
// no credentials of its own (DSP0200 has no client authentication for exports), so the token is what tells our
// subscriptions' deliveries from anyone else's POSTs. Refused: another method than POST (405), a path without a
// registered token (403), a body over maxBodyBytes (413, the connection is closed), and XML that is not an
// ExportIndication (400). Handlers are called after the answer is written, and their errors are the caller's to log.
import { createHash, randomBytes } from "node:crypto";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { decodeRequest, encodeResponse, type Instance } from "./xml.ts";

export interface ListenerOptions {
  /** 0 picks a free port. */
  readonly port: number;
  /** Default: all interfaces. */
  readonly host?: string;
  /** PEM certificate chain and key (kube/self-signed.ts makes a self-signed pair when none is given). */
  readonly cert: string;
  readonly key: string;
  /** Largest request body accepted; default 1 MiB (an indication with an embedded job is a few KiB). */
  readonly maxBodyBytes?: number;
}

export type IndicationHandler = (indication: Instance) => void;

/** What the listener refused, by reason: for a metric, a log or a test. */
export type Refusal = "method" | "token" | "size" | "malformed";

export interface Registration {
  /** The path to append to the listener's URL as the array reaches it. */
  readonly path: string;
  unregister(): void;
}

export const listenerPathPrefix = "/cimlistener/";
const defaultMaxBody = 1 << 20;

const digest = (token: string): string => createHash("sha256").update(token).digest("hex");

export class IndicationListener {
  readonly #server: Server;
  readonly #maxBody: number;
  /** Handlers by the sha256 of their token, so a lookup does not compare the secret itself. */
  readonly #handlers = new Map<string, IndicationHandler>();
  readonly refused: Record<Refusal, number> = { method: 0, token: 0, size: 0, malformed: 0 };
  delivered = 0;

  private constructor(server: Server, maxBody: number) {
    this.#server = server;
    this.#maxBody = maxBody;
  }

  static async start(opts: ListenerOptions): Promise<IndicationListener> {
    const server = createServer({ cert: opts.cert, key: opts.key });
    const self = new IndicationListener(server, opts.maxBodyBytes ?? defaultMaxBody);
    server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      self.#handle(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(opts.port, opts.host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    return self;
  }

  get port(): number {
    return (this.#server.address() as AddressInfo).port;
  }

  register(handler: IndicationHandler): Registration {
    const token = randomBytes(24).toString("base64url");
    const key = digest(token);
    this.#handlers.set(key, handler);
    return {
      path: `${listenerPathPrefix}${token}`,
      unregister: () => {
        this.#handlers.delete(key);
      },
    };
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.#server.closeAllConnections();
      this.#server.close(() => {
        resolve();
      });
    });
  }

  #refuse(res: ServerResponse, status: number, why: Refusal): void {
    this.refused[why]++;
    res.writeHead(status, { Connection: "close" });
    res.end();
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    if (req.method !== "POST") {
      this.#refuse(res, 405, "method");
      req.resume();
      return;
    }
    const path = (req.url ?? "").split("?")[0] ?? "";
    const handler = path.startsWith(listenerPathPrefix)
      ? this.#handlers.get(digest(path.slice(listenerPathPrefix.length)))
      : undefined;
    if (handler === undefined) {
      this.#refuse(res, 403, "token");
      req.resume();
      return;
    }
    if (Number(req.headers["content-length"] ?? 0) > this.#maxBody) {
      this.#refuse(res, 413, "size");
      req.destroy();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let over = false;
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > this.#maxBody && !over) {
        over = true;
        this.#refuse(res, 413, "size");
        req.destroy();
        return;
      }
      if (!over) chunks.push(c);
    });
    req.on("end", () => {
      if (!over) this.#answer(Buffer.concat(chunks).toString("utf8"), res, handler);
    });
    req.on("error", () => {
      res.destroy();
    });
  }

  #answer(body: string, res: ServerResponse, handler: IndicationHandler): void {
    let indication: Instance;
    let id: string;
    try {
      const r = decodeRequest(body);
      if (r.kind !== "export") throw new Error("not an export request");
      indication = r.indication;
      id = r.id;
    } catch {
      this.#refuse(res, 400, "malformed");
      return;
    }
    res.writeHead(200, { "Content-Type": 'application/xml; charset="utf-8"', CIMExport: "MethodResponse" });
    res.end(encodeResponse({ id, method: "ExportIndication", ok: { kind: "none" } }, "export"));
    this.delivered++;
    handler(indication);
  }
}
