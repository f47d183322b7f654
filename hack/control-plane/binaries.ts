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

/**
 * The Debian packages the node needs (runc, the CNI plugins, nftables, iproute2, busybox, util-linux, e2fsprogs),
 * installed when missing — as root only: elsewhere missingForNode says what to install. Callers run it before they
 * check the host, so a fresh machine gets them instead of a refusal.
 */
export function ensureNodePackages(): void {
  if (process.getuid?.() !== 0) return;
  const res = spawnSync("bash", [nodeScript, "packages"], { stdio: ["ignore", "inherit", "inherit"] });
  if (res.status !== 0)
    throw new Error(`installing the node's packages failed (exit ${res.status ?? res.signal ?? "?"})`);
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

/** Runs build-csi.sh with `args` and reads its "<what> <path>" lines. */
function buildCsi(args: readonly string[], what: string): (k: string) => string {
  const res = spawnSync("bash", [csiScript, ...args], { stdio: ["ignore", "pipe", "inherit"], encoding: "utf8" });
  if (res.status !== 0) throw new Error(`building ${what} failed (exit ${res.status ?? res.signal ?? "?"})`);
  const paths = new Map(
    res.stdout
      .trim()
      .split("\n")
      .map((l) => l.split(" ", 2) as [string, string]),
  );
  return (k: string) => {
    const p = paths.get(k);
    if (p === undefined || p === "") throw new Error(`build-csi.sh did not name its ${k}`);
    return p;
  };
}

/** The node's CSI pieces (build-csi.sh), built on first use and cached by version. */
export function ensureCsiBinaries(): CsiBinaries {
  const path = buildCsi([], "the CSI pieces");
  return { driver: path("driver"), provisioner: path("provisioner"), sanity: path("sanity") };
}

export interface PeerBinaries {
  /** Our CSI driver (hack/csi), run with --no-io. */
  readonly driver: string;
  /** external-snapshotter's snapshot-controller. */
  readonly snapshotController: string;
  /** external-snapshotter's csi-snapshotter sidecar. */
  readonly csiSnapshotter: string;
  /** The VolumeSnapshot CRDs' directory (config/crd of the client module of the same release, in the module cache). */
  readonly crds: string;
}

/** The benchmark's peer (build-csi.sh snapshotter), built on first use and cached by version. */
export function ensurePeerBinaries(): PeerBinaries {
  const path = buildCsi(["snapshotter"], "the upstream snapshot stack");
  return {
    driver: path("driver"),
    snapshotController: path("snapshot-controller"),
    csiSnapshotter: path("csi-snapshotter"),
    crds: path("crds"),
  };
}
