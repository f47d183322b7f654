// The health and metrics server: /healthz (the process is alive), /readyz (caches synced; the body says whether
// this replica leads), /metrics (Prometheus text format).
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface Health {
  /** Informers synced: this replica can take over leadership and serve. */
  ready(): boolean;
  leading(): boolean;
}

export async function startServer(
  port: number,
  registry: Registry,
  health: Health,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/healthz") {
      res.writeHead(200, { "content-type": "text/plain" }).end("ok\n");
    } else if (path === "/readyz") {
      const ok = health.ready();
      res
        .writeHead(ok ? 200 : 503, { "content-type": "text/plain" })
        .end(`${ok ? "ok" : "caches not synced"}; ${health.leading() ? "leader" : "standby"}\n`);
    } else if (path === "/metrics") {
      registry.metrics().then(
        (text) => res.writeHead(200, { "content-type": registry.contentType }).end(text),
        (e: unknown) => res.writeHead(500).end(String(e)),
      );
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, () => {
      resolve();
    });
  });
  return { server, port: (server.address() as AddressInfo).port };
}
