// Locates (building on first use) the pinned kube-apiserver, kubectl, etcd and optionally helm: build-control-plane.sh
// caches them outside the repository keyed by version and prints its progress on stderr.
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const script = join(dirname(fileURLToPath(import.meta.url)), "..", "build-control-plane.sh");
const nodeScript = join(dirname(fileURLToPath(import.meta.url)), "..", "build-node.sh");

export function ensureBinaries(opts: { helm?: boolean; log?: (line: string) => void } = {}): string {
  const res = spawnSync("bash", [script, ...(opts.helm === true ? ["helm"] : [])], {
    stdio: ["ignore", "pipe", "inherit"],
    encoding: "utf8",
  });
  if (res.status !== 0) throw new Error(`building the control plane failed (exit ${res.status ?? res.signal ?? "?"})`);
  const dir = res.stdout.trim().split("\n").pop();
  if (dir === undefined || dir === "") throw new Error("build-control-plane.sh printed no binary directory");
  return dir;
}

/**
 * The node's binaries (build-node.sh: kubelet, kube-controller-manager, kube-scheduler, containerd, ctr, the runc
 * shim, pause and its image), built after the control plane because they share its throw-away module.
 */
export function ensureNodeBinaries(opts: { log?: (line: string) => void } = {}): string {
  ensureBinaries(opts);
  const res = spawnSync("bash", [nodeScript], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`building the node failed (exit ${res.status ?? res.signal ?? "?"})`);
  const dir = res.stdout.trim().split("\n").pop();
  if (dir === undefined || dir === "") throw new Error("build-node.sh printed no binary directory");
  return dir;
}

const csiScript = join(dirname(fileURLToPath(import.meta.url)), "..", "build-csi.sh");

export interface CsiBinaries {
  /** Our CSI driver (hack/csi). */
  readonly driver: string;
  /** kubernetes-csi's external-provisioner. */
  readonly provisioner: string;
  /** csi-test's csi-sanity. */
  readonly sanity: string;
}

/** The node's CSI pieces (build-csi.sh), built on first use and cached by version. */
export function ensureCsiBinaries(): CsiBinaries {
  const res = spawnSync("bash", [csiScript], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`building the CSI pieces failed (exit ${res.status ?? res.signal ?? "?"})`);
  const paths = new Map(
    res.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" ", 2) as [string, string]),
  );
  const path = (k: string) => {
    const p = paths.get(k);
    if (p === undefined || p === "") throw new Error(`build-csi.sh did not name its ${k}`);
    return p;
  };
  return { driver: path("driver"), provisioner: path("provisioner"), sanity: path("sanity") };
}
