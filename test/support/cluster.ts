// Test helpers for the real control plane started by test/setup/control-plane.ts: kubectl of the apiserver's
// version, CRD installation, a fresh namespace per test (without kube-controller-manager namespaces never finish
// deleting, so tests never share or delete them), and an `eventually` poll.
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { inject } from "vitest";
import { KubeConfig } from "@kubernetes/client-node";
import type { ClusterInfo } from "../../hack/control-plane/cluster.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");

export function cluster(): ClusterInfo {
  return inject("cluster");
}

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs the apiserver-matched kubectl as `user` (default admin); never throws on a non-zero exit. */
export function kubectl(args: readonly string[], opts: { input?: string; user?: string } = {}): KubectlResult {
  const c = cluster();
  const kubeconfig =
    opts.user === undefined || opts.user === "admin" ? c.kubeconfig : join(c.dir, `kubeconfig-${opts.user}`);
  const res = spawnSync(c.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], {
    input: opts.input,
    encoding: "utf8",
    cwd: repoRoot,
    timeout: 120_000,
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

/**
 * kubectl without blocking this process: required for anything that waits on an operator running in-process
 * (kubectl wait, delete --wait), which spawnSync would freeze along with the whole event loop.
 */
export function kubectlAsync(
  args: readonly string[],
  opts: { input?: string; user?: string; kubeconfig?: string } = {},
): Promise<KubectlResult> {
  const c = cluster();
  const kubeconfig =
    opts.kubeconfig ??
    (opts.user === undefined || opts.user === "admin" ? c.kubeconfig : join(c.dir, `kubeconfig-${opts.user}`));
  return new Promise((resolve, reject) => {
    const child = spawn(c.kubectl, [`--kubeconfig=${kubeconfig}`, ...args], { cwd: repoRoot });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code: code ?? -1, stdout, stderr });
    });
    child.stdin.end(opts.input);
  });
}

export async function kubectlAsyncOk(
  args: readonly string[],
  opts: { input?: string; user?: string } = {},
): Promise<string> {
  const res = await kubectlAsync(args, opts);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

/** kubectl that must succeed: returns stdout, or throws with stderr. */
export function kubectlOk(args: readonly string[], opts: { input?: string; user?: string } = {}): string {
  const res = kubectl(args, opts);
  if (res.code !== 0) throw new Error(`kubectl ${args.join(" ")} failed (${res.code}): ${res.stderr}`);
  return res.stdout;
}

export function kubeConfig(user = "admin"): KubeConfig {
  const kc = new KubeConfig();
  const c = cluster();
  kc.loadFromFile(user === "admin" ? c.kubeconfig : join(c.dir, `kubeconfig-${user}`));
  return kc;
}

/** Installs crds/ and waits until every CRD is Established and served. Idempotent. */
export function installCrds(): void {
  kubectlOk(["apply", "--server-side", "--force-conflicts", "-f", join(repoRoot, "crds")]);
  kubectlOk(["wait", "--for=condition=Established", "--timeout=60s", "-f", join(repoRoot, "crds")]);
}

export function freshNamespace(prefix = "t"): string {
  const ns = `${prefix}-${randomBytes(4).toString("hex")}`;
  kubectlOk(["create", "namespace", ns]);
  return ns;
}

/** Creates a VirtualCopy of `volumeName` with kubectl, as a user would, and returns its uid. */
export function createVirtualCopy(ns: string, name: string, volumeName = "vol1"): string {
  return kubectlOk(["create", "-n", ns, "-f", "-", "-o", "jsonpath={.metadata.uid}"], {
    input: JSON.stringify({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name },
      spec: { source: { volumeName } },
    }),
  });
}

/** Polls `check` until it returns without throwing, or rethrows its last error after `timeoutMs`. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 30_000, intervalMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e: unknown) {
      if (Date.now() > deadline) throw e;
      await sleep(intervalMs);
    }
  }
}
