// The RestWriter's request as a server sees it, on a plain local HTTP server (a kubeconfig for http:// with
// insecure-skip-tls-verify, as client-node allows): the server URL's path prefix, the query, the headers (bearer
// token or basic auth, impersonation, content type, user agent), the body; a 2xx answer's body is not parsed, an
// error's is the ApiException's body. The kube-apiserver side is test/integration/kube-rest.test.ts.
import { mkdtemp, rm } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ApiException, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiStatus } from "./errors.ts";
import { resourcePath, restWriter, type RestWriter } from "./rest.ts";

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage["headers"];
  readonly body: string;
}

let server: Server;
let base: string;
const seen: Seen[] = [];
/** What the server answers next: status and body. */
let answer: { status: number; body: string } = { status: 200, body: "not json at all" };

beforeAll(async () => {
  server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({
        method: req.method ?? "",
        url: req.url ?? "",
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      });
      res.writeHead(answer.status, { "content-type": "application/json", "retry-after": "3" });
      res.end(answer.body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((resolve) =>
    server.close(() => {
      resolve();
    }),
  );
});

function kubeconfig(server: string, user: Record<string, unknown>): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    clusters: [{ name: "c", server, skipTLSVerify: true }],
    users: [{ name: "u", ...user }],
    contexts: [{ name: "x", cluster: "c", user: "u" }],
    currentContext: "x",
  });
  return kc;
}

async function withWriter(kc: KubeConfig, f: (w: RestWriter) => Promise<void>): Promise<void> {
  const w = restWriter(kc, { userAgent: "arraycopy-test/1" });
  if (w === undefined) throw new Error("expected a RestWriter");
  try {
    await f(w);
  } finally {
    await w.close();
  }
}

describe("RestWriter", () => {
  it("sends below the server's path prefix, with the query, token, impersonation and body", async () => {
    seen.length = 0;
    answer = { status: 200, body: "not json at all" };
    const kc = kubeconfig(`${base}/k8s/clusters/c-1/`, { token: "t0k3n", impersonateUser: "bob" });
    await withWriter(kc, async (w) => {
      await w.send({
        method: "PATCH",
        path: "/apis/arraycopy.io/v1alpha1/namespaces/ns/virtualcopies/a/status",
        query: { fieldManager: "arraycopy-virtualcopy", force: "true" },
        contentType: "application/apply-patch+yaml",
        body: '{"status":{}}',
      });
    });
    expect(seen).toHaveLength(1);
    const [req] = seen;
    expect(req?.method).toBe("PATCH");
    expect(req?.url).toBe(
      "/k8s/clusters/c-1/apis/arraycopy.io/v1alpha1/namespaces/ns/virtualcopies/a/status" +
        "?fieldManager=arraycopy-virtualcopy&force=true",
    );
    expect(req?.headers).toMatchObject({
      authorization: "Bearer t0k3n",
      "impersonate-user": "bob",
      "content-type": "application/apply-patch+yaml",
      accept: "application/json",
      "user-agent": "arraycopy-test/1",
    });
    expect(req?.body).toBe('{"status":{}}');
  });

  it("sends a username and password as basic auth", async () => {
    seen.length = 0;
    answer = { status: 201, body: "{}" };
    await withWriter(kubeconfig(base, { username: "ann", password: "s3cret" }), (w) =>
      w.send({ method: "POST", path: "/api/v1/namespaces/ns/configmaps", contentType: "application/json", body: "{}" }),
    );
    expect(seen[0]?.headers["authorization"]).toBe(`Basic ${Buffer.from("ann:s3cret").toString("base64")}`);
  });

  it("a first credential lookup that fails leaves nothing behind: the next write gets through", async () => {
    // A real exec plugin that is not ready on its first call (as an SSO helper before login) and is on its second.
    const dir = await mkdtemp(join(tmpdir(), "rest-exec-"));
    const ready = join(dir, "ready");
    const credential = JSON.stringify({
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: "from-exec" },
    });
    const script =
      `if [ -e '${ready}' ]; then echo '${credential}'; ` + `else touch '${ready}'; echo 'not ready' >&2; exit 1; fi`;
    const kc = kubeconfig(base, {
      exec: { apiVersion: "client.authentication.k8s.io/v1", command: "/bin/sh", args: ["-c", script] },
    });
    seen.length = 0;
    answer = { status: 201, body: "{}" };
    const req = {
      method: "POST",
      path: "/api/v1/namespaces/ns/configmaps",
      contentType: "application/json",
      body: "{}",
    } as const;
    try {
      await withWriter(kc, async (w) => {
        await expect(w.send(req)).rejects.toThrow("not ready");
        expect(seen).toHaveLength(0);
        await w.send(req);
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
    expect(seen.map((s) => s.headers["authorization"])).toEqual(["Bearer from-exec"]);
  });

  it("a non-2xx answer is an ApiException with the Status as its body and the headers", async () => {
    answer = {
      status: 429,
      body: JSON.stringify({ kind: "Status", code: 429, reason: "TooManyRequests", message: "slow down" }),
    };
    await withWriter(kubeconfig(base, { token: "t" }), async (w) => {
      const err: unknown = await w
        .send({ method: "POST", path: "/api/v1/namespaces/ns/configmaps", contentType: "application/json", body: "{}" })
        .then(
          () => undefined,
          (e: unknown) => e,
        );
      expect(err).toBeInstanceOf(ApiException);
      expect(apiStatus(err)).toEqual({ code: 429, reason: "TooManyRequests", message: "slow down" });
      expect(err instanceof ApiException ? err.headers["retry-after"] : undefined).toBe("3");
    });
  });

  it("leaves a proxied cluster to client-node, and refuses http:// without skip-verify", () => {
    const proxied = new KubeConfig();
    proxied.loadFromOptions({
      clusters: [
        { name: "c", server: "https://k8s.example:6443", proxyUrl: "http://proxy:3128", skipTLSVerify: false },
      ],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    expect(restWriter(proxied)).toBeUndefined();
    const plain = new KubeConfig();
    plain.loadFromOptions({
      clusters: [{ name: "c", server: "http://k8s.example:8080", skipTLSVerify: false }],
      users: [{ name: "u", token: "t" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
    expect(() => restWriter(plain)).toThrow(/insecure-skip-tls-verify/);
  });
});

describe("resourcePath", () => {
  it("builds core, grouped, namespaced and cluster-scoped paths, escaping names", () => {
    expect(resourcePath({ group: "", version: "v1", plural: "configmaps" }, "ns")).toBe(
      "/api/v1/namespaces/ns/configmaps",
    );
    expect(resourcePath({ group: "arraycopy.io", version: "v1alpha1", plural: "copyclasses" }, undefined, "c")).toBe(
      "/apis/arraycopy.io/v1alpha1/copyclasses/c",
    );
    expect(resourcePath({ group: "events.k8s.io", version: "v1", plural: "events" }, "n s", "a/b", "status")).toBe(
      "/apis/events.k8s.io/v1/namespaces/n%20s/events/a%2Fb/status",
    );
  });
});
