// The RestWriter on the real apiserver: it authenticates with the kubeconfig's credentials, its refusals are
// ApiExceptions that errors.ts reads exactly as it reads client-node's (404 NotFound, 422 Invalid with the
// apiserver's message, 403 for a user without the right, 409 AlreadyExists), a closed port is a retryable network
// error, and it takes its tokens from the RequestThrottle. Time is a FakeClock, so "held back until the bucket
// refills" is observed without measuring time.
import { KubeConfig } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { FakeClock, realClock } from "../../operator/src/kube/clock.ts";
import { makeClients } from "../../operator/src/kube/client.ts";
import {
  apiStatus,
  isAlreadyExists,
  isForbidden,
  isInvalid,
  isNotFound,
  isRetryable,
  networkErrorCode,
  summarise,
} from "../../operator/src/kube/errors.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { restWriter, type RestRequest, type RestWriter } from "../../operator/src/kube/rest.ts";
import {
  createVirtualCopy,
  eventually,
  freshNamespace,
  installCrds,
  kubeConfig,
  kubectlOk,
} from "../support/cluster.ts";

function writerFor(kc: KubeConfig, throttle = new RequestThrottle(realClock)): RestWriter {
  const w = restWriter(kc, { throttle });
  if (w === undefined) throw new Error("no RestWriter for the test cluster");
  return w;
}

function configMap(ns: string, name: string): RestRequest {
  return {
    method: "POST",
    path: `/api/v1/namespaces/${ns}/configmaps`,
    contentType: "application/json",
    body: JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name }, data: { k: "v" } }),
  };
}

async function failure(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => {
      throw new Error("expected the request to fail");
    },
    (e: unknown) => e,
  );
}

describe("RestWriter on the real apiserver", () => {
  it("creates and patches with the kubeconfig's credentials; refusals read as client-node's do", async () => {
    const ns = freshNamespace("rest");
    const w = writerFor(kubeConfig());
    try {
      await w.send(configMap(ns, "a"));
      expect(kubectlOk(["get", "configmap", "-n", ns, "a", "-o", "jsonpath={.data.k}"])).toBe("v");

      const taken = await failure(w.send(configMap(ns, "a")));
      expect(isAlreadyExists(taken)).toBe(true);
      expect(summarise(taken)).toMatch(/^409 AlreadyExists: configmaps "a" already exists$/);

      await w.send({
        method: "PATCH",
        path: `/api/v1/namespaces/${ns}/configmaps/a`,
        query: { fieldManager: "rest-test" },
        contentType: "application/merge-patch+json",
        body: JSON.stringify({ data: { k: "w" } }),
      });
      expect(kubectlOk(["get", "configmap", "-n", ns, "a", "-o", "jsonpath={.data.k}"])).toBe("w");
      const managers = kubectlOk([
        "get",
        "configmap",
        "-n",
        ns,
        "a",
        "-o",
        "jsonpath={.metadata.managedFields[*].manager}",
      ]);
      expect(managers.split(" ")).toContain("rest-test");

      const missing = await failure(
        w.send({
          method: "PATCH",
          path: `/api/v1/namespaces/${ns}/configmaps/nope`,
          contentType: "application/merge-patch+json",
          body: "{}",
        }),
      );
      expect(isNotFound(missing)).toBe(true);
      expect(apiStatus(missing)).toMatchObject({ code: 404, reason: "NotFound" });
      expect(isRetryable(missing)).toBe(false);
    } finally {
      await w.close();
    }
  });

  it("a status the schema refuses is 422 Invalid with the apiserver's message", async () => {
    installCrds();
    const ns = freshNamespace("rest");
    createVirtualCopy(ns, "a");
    const w = writerFor(kubeConfig());
    try {
      const err = await failure(
        w.send({
          method: "PATCH",
          path: `/apis/arraycopy.io/v1alpha1/namespaces/${ns}/virtualcopies/a/status`,
          query: { fieldManager: "rest-test", force: "true" },
          contentType: "application/apply-patch+yaml",
          body: JSON.stringify({
            apiVersion: "arraycopy.io/v1alpha1",
            kind: "VirtualCopy",
            metadata: { name: "a", namespace: ns },
            status: { syncState: "NotASyncState" },
          }),
        }),
      );
      expect(isInvalid(err)).toBe(true);
      expect(apiStatus(err)?.message).toMatch(/status\.syncState: Unsupported value: "NotASyncState"/);
    } finally {
      await w.close();
    }
  });

  it("sends the kubeconfig user's own credentials", async () => {
    const ns = freshNamespace("rest");
    const w = writerFor(kubeConfig("alice"));
    try {
      const err = await failure(w.send(configMap(ns, "a")));
      expect(isForbidden(err)).toBe(true);
      expect(summarise(err)).toMatch(/^403 Forbidden: .*"alice"/);
    } finally {
      await w.close();
    }
  });

  it("a port with no server is a retryable network error", async () => {
    const kc = kubeConfig();
    const closed = new KubeConfig();
    const cluster = kc.getCurrentCluster();
    const user = kc.getCurrentUser();
    if (cluster === null || user === null) throw new Error("test kubeconfig has no cluster");
    // Port 1 on loopback: nothing listens there.
    closed.loadFromClusterAndUser({ ...cluster, name: "closed", server: "https://127.0.0.1:1" }, user);
    const w = writerFor(closed);
    try {
      const err = await failure(w.send(configMap("default", "a")));
      expect(networkErrorCode(err)).toBe("ECONNREFUSED");
      expect(isRetryable(err)).toBe(true);
      expect(summarise(err)).toMatch(/^network ECONNREFUSED: /);
    } finally {
      await w.close();
    }
  });

  it("waits for the throttle's token before a request goes on the wire", async () => {
    const ns = freshNamespace("rest");
    const clock = new FakeClock();
    let sent = 0;
    const clients = makeClients(kubeConfig(), {
      throttle: new RequestThrottle(clock, { qps: 2, burst: 1 }),
      onRestRequest: () => sent++,
    });
    const w = clients.rest;
    if (w === undefined) throw new Error("no RestWriter for the test cluster");
    try {
      const first = w.send(configMap(ns, "a"));
      const second = w.send(configMap(ns, "b"));
      await first;
      expect(sent).toBe(1);
      await clock.advanceAsync(499);
      expect(sent).toBe(1);
      await clock.advanceAsync(1);
      await eventually(() => {
        expect(sent).toBe(2);
      });
      await second;
      expect(kubectlOk(["get", "configmaps", "-n", ns, "a", "b", "-o", "name"]).trim().split("\n")).toEqual([
        "configmap/a",
        "configmap/b",
      ]);
    } finally {
      await w.close();
    }
  });
});
