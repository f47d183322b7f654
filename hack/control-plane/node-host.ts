// What the one-node cluster makes on the host, and its removal: a bridge with the node's address, one nft table
// (the API server's Service IP for pods, and no pod traffic routed off the node), a cgroup of its own in every v1
// hierarchy (the runtime's processes in <cgroup>/runtime, pods in <cgroup>/kubepods), and a mount namespace that
// holds every mount kubelet and containerd make, with our directories bound over the fixed paths they write to.
//
// Invariants:
// - everything made is written to <dir>/node-host.json before it is made, so a teardown after any crash removes
//   exactly what was made, and nothing chosen by name pattern;
// - a process is ours when it sits in our cgroup: teardown kills those by PID, then removes the cgroups;
// - host directories are only created when missing (as empty mount points) and removed again when empty.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { loopDevices, ourLoopDevices, releaseLoopDevices } from "./loop-devices.ts";

export interface NodeHost {
  /** 0..63: picks the bridge name and the /24 of the pod network. */
  readonly index: number;
  readonly bridge: string;
  /** The node's address: on the bridge, the pods' gateway, where the apiserver and the kubelet listen. */
  readonly address: string;
  readonly podCidr: string;
  readonly nftTable: string;
  /** Relative to each hierarchy's root: /arraycopy-node-<index>. */
  readonly cgroup: string;
  /** Host directories created as mount points (removed again by teardown when empty). */
  readonly createdDirs: readonly string[];
  /** Fixed paths kubelet and containerd write to, each bound from a directory under <dir>/host in the namespace. */
  readonly binds: readonly { readonly source: string; readonly target: string }[];
  /** nft tables before the node started: teardown reports any new one (none is expected). */
  readonly tablesBefore: readonly string[];
}

/** The API server's Service IP: the first address of --service-cluster-ip-range (cluster.ts). */
export const serviceIp = "10.0.0.1";

const hostFile = (dir: string) => join(dir, "node-host.json");
const cgroupRoot = "/sys/fs/cgroup";

/** Paths kubelet, containerd and the CNI library use whatever their configuration says (docs/node.md). */
const fixedPaths = [
  "/var/lib/kubelet",
  "/var/log/pods",
  "/var/log/containers",
  "/usr/libexec/kubernetes",
  "/run/containerd",
  "/run/netns",
  "/var/lib/cni",
  "/etc/cni",
];

function run(cmd: string, args: readonly string[], input?: string): string {
  return execFileSync(cmd, args, { encoding: "utf8", input, stdio: ["pipe", "pipe", "pipe"] });
}

function tryRun(cmd: string, args: readonly string[]): boolean {
  return spawnSync(cmd, args, { stdio: "ignore" }).status === 0;
}

function nftTables(): string[] {
  const res = spawnSync("nft", ["list", "tables"], { encoding: "utf8" });
  return res.stdout.split("\n").filter((l) => l.startsWith("table "));
}

function linkExists(name: string): boolean {
  return tryRun("ip", ["link", "show", "dev", name]);
}

/** The v1 hierarchies (and the hybrid unified one) mounted under /sys/fs/cgroup. */
export function hierarchies(): string[] {
  return readdirSync(cgroupRoot)
    .map((h) => join(cgroupRoot, h))
    .filter((h) => existsSync(join(h, "cgroup.procs")));
}

/** What a machine lacks to run the node: empty when it can. */
export function missingForNode(): string[] {
  const missing: string[] = [];
  if (process.getuid?.() !== 0) missing.push("root (kubelet, containerd, runc, mounts and the bridge need it)");
  if (!existsSync(join(cgroupRoot, "memory", "cgroup.procs")) && !existsSync(join(cgroupRoot, "cgroup.controllers")))
    missing.push("cgroups (no memory hierarchy under /sys/fs/cgroup)");
  if (!existsSync("/proc/self/ns/mnt")) missing.push("mount namespaces");
  if (!existsSync("/dev/kmsg")) missing.push("/dev/kmsg (kubelet's OOM watcher reads it)");
  if (!existsSync("/dev/loop-control")) missing.push("/dev/loop-control (the CSI driver's loop devices)");
  for (const [bin, pkg] of [
    ["/usr/sbin/runc", "runc"],
    ["/usr/lib/cni/bridge", "containernetworking-plugins"],
    ["/usr/sbin/nft", "nftables"],
    ["/usr/bin/unshare", "util-linux"],
    ["/usr/bin/nsenter", "util-linux"],
    // The CSI driver's loop devices and filesystems.
    ["/usr/sbin/losetup", "util-linux"],
    ["/usr/sbin/blkid", "util-linux"],
    ["/usr/sbin/mkfs.ext4", "e2fsprogs"],
  ] as const) {
    if (!existsSync(bin)) missing.push(`${bin} (Debian package ${pkg})`);
  }
  return missing;
}

function save(dir: string, host: NodeHost): void {
  writeFileSync(hostFile(dir), JSON.stringify(host, null, 2));
}

export function readHost(dir: string): NodeHost | undefined {
  if (!existsSync(hostFile(dir))) return undefined;
  return JSON.parse(readFileSync(hostFile(dir), "utf8")) as NodeHost;
}

/** The bridge, the cgroups and the bind sources; the nft rule comes later (it needs the apiserver's port). */
export function setUpHost(dir: string): NodeHost {
  let index = 0;
  while (
    index < 64 &&
    (linkExists(`acnode${index}`) || existsSync(join(cgroupRoot, "pids", `arraycopy-node-${index}`)))
  )
    index++;
  if (index === 64) throw new Error("no free node index: 64 bridges acnode* exist");
  const createdDirs = fixedPaths.filter((p) => !existsSync(p));
  const host: NodeHost = {
    index,
    bridge: `acnode${index}`,
    address: `10.77.${index}.1`,
    podCidr: `10.77.${index}.0/24`,
    nftTable: `arraycopy-node-${index}`,
    cgroup: `/arraycopy-node-${index}`,
    createdDirs,
    tablesBefore: nftTables(),
    binds: fixedPaths.map((p) => ({ source: join(dir, "host", p.slice(1).replaceAll("/", "_")), target: p })),
  };
  save(dir, host);
  for (const b of host.binds) mkdirSync(b.source, { recursive: true });
  for (const d of createdDirs) mkdirSync(d, { recursive: true });
  run("ip", ["link", "add", host.bridge, "type", "bridge"]);
  run("ip", ["addr", "add", `${host.address}/24`, "dev", host.bridge]);
  run("ip", ["link", "set", host.bridge, "up"]);
  for (const h of hierarchies()) {
    for (const sub of ["", "runtime"]) {
      const cg = join(h, host.cgroup, sub);
      mkdirSync(cg, { recursive: true });
      // A new cpuset cgroup has no CPUs or memory nodes: a process cannot join it until they are copied down.
      if (h.endsWith("/cpuset")) {
        for (const f of ["cpuset.cpus", "cpuset.mems"]) writeFileSync(join(cg, f), readFileSync(join(h, f)));
      }
    }
  }
  return host;
}

/**
 * Pods reach the API server at its Service IP (what in-cluster clients are given) through one DNAT rule to the
 * node's address; packets from pods to anywhere but the pod network are dropped.
 */
export function setServiceRule(host: NodeHost, apiPort: number): void {
  const rules = [
    `table ip ${host.nftTable} {`,
    "  chain prerouting {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    `    iifname "${host.bridge}" ip daddr ${serviceIp} tcp dport 443 dnat to ${host.address}:${apiPort}`,
    "  }",
    "  chain forward {",
    "    type filter hook forward priority filter; policy accept;",
    `    ip saddr ${host.podCidr} ip daddr != ${host.podCidr} drop`,
    "  }",
    "}",
    "",
  ].join("\n");
  run("nft", ["-f", "-"], rules);
}

/**
 * The holder of the node's mount namespace: `unshare` makes it (everything shared inside, the host's / stays
 * private, so no mount leaks out), binds our directories over the fixed paths, and sleeps. The runtime and the
 * kubelet enter it (nodeCommand); when the last of them exits, every mount they made is gone with it.
 */
export function holderCommand(host: NodeHost): { bin: string; args: string[] } {
  const binds = host.binds.map((b) => `mount --bind '${b.source}' '${b.target}'`).join(" && ");
  return {
    bin: "/usr/bin/unshare",
    args: ["--mount", "--propagation", "shared", "--", "/bin/sh", "-c", `${binds} && exec sleep infinity`],
  };
}

/** A command run inside the node's mount namespace and <cgroup>/runtime of every hierarchy. */
export function nodeCommand(host: NodeHost, holderPid: number, bin: string, args: readonly string[]) {
  const procs = hierarchies()
    .map((h) => `'${join(h, host.cgroup, "runtime", "cgroup.procs")}'`)
    .join(" ");
  const script = `for f in ${procs}; do echo $$ > "$f"; done; exec nsenter --target ${holderPid} --mount -- "$@"`;
  return { bin: "/bin/sh", args: ["-c", script, "node-command", bin, ...args] };
}

function cgroupDirs(h: string, cg: string): string[] {
  const root = join(h, cg);
  if (!existsSync(root)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) if (e.isDirectory()) walk(join(d, e.name));
    out.push(d);
  };
  walk(root);
  return out; // deepest first
}

function pidsIn(host: NodeHost): number[] {
  const pids = new Set<number>();
  for (const h of hierarchies()) {
    for (const d of cgroupDirs(h, host.cgroup)) {
      try {
        for (const l of readFileSync(join(d, "cgroup.procs"), "utf8").split("\n")) if (l !== "") pids.add(Number(l));
      } catch {
        // Removed meanwhile.
      }
    }
  }
  return [...pids];
}

/** Kills every process in our cgroups (containers, shims, runtime), then removes the cgroups. */
async function removeCgroups(host: NodeHost, log: (l: string) => void): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const pids = pidsIn(host);
    if (pids.length === 0) break;
    if (i === 0) log(`[node] killing ${pids.length} leftover processes in ${host.cgroup}`);
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // Gone.
      }
    }
    await sleep(100);
  }
  for (let attempt = 0; attempt < 50; attempt++) {
    let left = 0;
    for (const h of hierarchies()) {
      for (const d of cgroupDirs(h, host.cgroup)) {
        try {
          rmdirSync(d);
        } catch {
          left++;
        }
      }
    }
    if (left === 0) return;
    await sleep(100);
  }
  log(`[node] warning: cgroups under ${host.cgroup} could not all be removed`);
}

/**
 * Removes what setUpHost and setServiceRule made. Call after the recorded processes were stopped: what is left in
 * our cgroups (pods' containers, containerd's shims, which leave containerd's process group) is killed here.
 */
export async function teardownHost(dir: string, log: (l: string) => void = () => {}): Promise<boolean> {
  const host = readHost(dir);
  if (host === undefined) return false;
  await removeCgroups(host, log);
  // The CSI driver's loop devices: not the namespace's, so they outlive it (node-csi.ts, loop-devices.ts).
  const csiState = join(dir, "csi", "state");
  releaseLoopDevices(csiState, log);
  if (tryRun("nft", ["list", "table", "ip", host.nftTable])) run("nft", ["delete", "table", "ip", host.nftTable]);
  if (linkExists(host.bridge)) run("ip", ["link", "delete", host.bridge]);
  // Removing a directory that another node's namespace has a mount on would detach that mount: leave the mount
  // points while another node of this machine runs.
  const others = readdirSync(join(cgroupRoot, "pids")).filter((c) => c.startsWith("arraycopy-node-"));
  if (others.length > 0) log(`[node] ${others.join(", ")} still running: ${host.createdDirs.join(", ")} left in place`);
  for (const d of others.length > 0 ? [] : [...host.createdDirs].reverse()) {
    try {
      rmdirSync(d);
    } catch {
      log(`[node] warning: ${d} is not empty or still a mount point elsewhere; left in place`);
    }
  }
  const newTables = nftTables().filter((t) => !host.tablesBefore.includes(t));
  if (newTables.length > 0) log(`[node] warning: nft tables that were not there before: ${newTables.join(", ")}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(dir) || fixedPaths.some((p) => m === p || m.startsWith(`${p}/`)));
  if (mounts.length > 0) log(`[node] warning: mounts left on the host: ${mounts.join(", ")}`);
  const loops = new Set(ourLoopDevices(csiState).map((l) => `${l.name} (${l.backFile})`));
  for (const l of loopDevices()) if (l.backFile.startsWith(dir)) loops.add(`${l.name} (${l.backFile})`);
  if (loops.size > 0) log(`[node] warning: loop devices left: ${[...loops].join(", ")}`);
  rmSync(hostFile(dir), { force: true });
  return true;
}
