// The operator benchmark's peer (`npm run bench:operator -- --peer`): the upstream CSI snapshot stack —
// external-snapshotter's snapshot-controller and csi-snapshotter, built from the Go module proxy (hack/build-csi.sh
// snapshotter) — over our CSI driver in its fixture mode (hack/csi --no-io), against the benchmark's control plane.
// It times N VolumeSnapshots of one PVC to readyToUse, created by the same compiled load client as the operator's
// VirtualCopies, with the stack's default flags, tuned, and with its client-side limits lifted.
//
// Invariants:
// - the VolumeSnapshot CRDs are those of the release's own client module, applied from the module cache;
// - the snapshots' source is a PV bound by hand to a PVC (no kubelet, no PV controller): the PV names the CSI
//   volume the driver made (csi create-volume), and the PVC's status says Bound, which is all the controller reads;
// - each mode starts its own snapshot-controller and csi-snapshotter (a fresh process: its RSS peak is its own),
//   waits for one warm-up snapshot, measures, stops them, then removes its VolumeSnapshots and their contents — only
//   those it created (our namespace, the mode's name prefix, our driver) — so the next mode's caches start empty;
// - every process runs in its own group, recorded under the benchmark's directory, with a watchdog that stops it if
//   the benchmark dies.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { CustomObjectsApi, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { ensurePeerBinaries } from "../hack/control-plane/binaries.ts";
import { alive, launch, pidsFile, startWatchdog, type ClusterInfo } from "../hack/control-plane/cluster.ts";
import { csiDriverName as driverName } from "../hack/control-plane/node-csi.ts";
import { killRecorded } from "../hack/control-plane/processes.ts";
import {
  cpuDuring,
  createNamespace,
  hwmMiB,
  pool,
  readyWatch,
  requestCounts,
  retried,
  rssMiB,
  runLoad,
  snapshotReady,
  writesSince,
  type Load,
  type Watched,
} from "./measure.ts";

const snapshotClass = "bench-peer";
const namespace = "peer";
const pvc = "peer-src";
const group = "snapshot.storage.k8s.io";
const version = "v1";

/** One way of running the peer: the flags given to both snapshot-controller and csi-snapshotter. */
export interface PeerMode {
  readonly name: string;
  readonly flags: readonly string[];
  readonly n: number;
}

/**
 * The three modes of issue 17: the binaries' defaults (5 qps, burst 10, 10 workers), tuned as the issue tuned them,
 * and with the client-side rate limit lifted. The default mode is slow (about 0.55 snapshots/s), so it runs
 * min(n, defaultN) snapshots.
 */
export function peerModes(n: number, defaultN: number): PeerMode[] {
  const threads = "--worker-threads=32";
  return [
    { name: "default", flags: [], n: Math.min(n, defaultN) },
    { name: "tuned", flags: ["--kube-api-qps=100", "--kube-api-burst=200", threads], n },
    { name: "lifted", flags: ["--kube-api-qps=1000000", "--kube-api-burst=1000000", threads], n },
  ];
}

/**
 * Writes the peer made, from apiserver_request_total's writes by "VERB resource[/subresource]": all but the load
 * client's creates of the VolumeSnapshots and the apiserver's own (its identity Lease renewals and `POST endpoints`;
 * the peer runs without leader election, so it writes no Lease).
 */
export function peerWrites(writes: ReadonlyMap<string, number>): number {
  const own = (k: string) => k === "POST volumesnapshots" || / (leases|endpoints)$/.test(k);
  return [...writes].filter(([k]) => !own(k)).reduce((a, [, v]) => a + v, 0);
}

export interface PeerRun {
  readonly mode: string;
  readonly flags: readonly string[];
  readonly n: number;
  readonly seconds: number;
  readonly snapshotsPerSecond: number;
  readonly writesPerSnapshot: number;
  readonly writes: Record<string, number>;
  /** CPU seconds over the run by process: etcd, kube-apiserver, snapshot-controller, csi-snapshotter, driver, ... */
  readonly cpuSeconds: Record<string, number>;
  /** RSS at the end of the run, MiB, by process (the client's is its peak, from getrusage). */
  readonly rssMiB: Record<string, number>;
  /** Peak RSS (VmHWM) of the mode's own processes over their life, MiB. */
  readonly peakRssMiB: Record<string, number>;
}

export interface Peer {
  /** The CRD files applied, from the module cache. */
  readonly crds: readonly string[];
  run(mode: PeerMode): Promise<PeerRun>;
  close(): Promise<void>;
}

interface Started {
  readonly name: string;
  readonly pid: number;
}

/** Starts a process in its own group under `dir` (its log is <dir>/<name>.log), guarded by a watchdog. */
function start(dir: string, name: string, bin: string, args: readonly string[]): Started {
  mkdirSync(dir, { recursive: true });
  const rec = launch(dir, name, bin, args);
  startWatchdog(dir, process.pid, [rec.pid]);
  return rec;
}

function kubectl(cluster: ClusterInfo, args: readonly string[], input?: string): string {
  const res = spawnSync(cluster.kubectl, [`--kubeconfig=${cluster.kubeconfig}`, ...args], {
    encoding: "utf8",
    input,
  });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${res.stderr.trim()}`);
  return res.stdout;
}

/**
 * The CRDs of the release's client module, all of them as upstream's deployment installs them: without the
 * VolumeGroupSnapshot ones (not used here) the snapshot-controller waits 30 s for them at every start.
 */
function installCrds(cluster: ClusterInfo, dir: string): string[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml")
    .map((f) => join(dir, f));
  if (!files.some((f) => f.endsWith("snapshot.storage.k8s.io_volumesnapshots.yaml")))
    throw new Error(`no VolumeSnapshot CRD in ${dir}: ${files.join(", ")}`);
  kubectl(cluster, ["apply", "--server-side", ...files.flatMap((f) => ["-f", f])]);
  kubectl(cluster, ["wait", "--for=condition=Established", "--timeout=60s", ...files.flatMap((f) => ["-f", f])]);
  return files;
}

/**
 * Starts the driver, makes the source volume through it, binds a PV and a PVC to it by hand and installs the
 * snapshot class; returns what runs each mode.
 */
export async function startPeer(cluster: ClusterInfo, kc: KubeConfig, load: Load, dir: string): Promise<Peer> {
  const bins = ensurePeerBinaries();
  const crdFiles = installCrds(cluster, bins.crds);
  const driverDir = join(dir, "driver");
  const socket = join(driverDir, "csi.sock");
  const driver = start(driverDir, "csi-driver", bins.driver, [
    `--endpoint=${socket}`,
    `--state-dir=${join(driverDir, "state")}`,
    `--driver-name=${driverName}`,
    "--no-io",
    "--log-calls=false",
  ]);
  for (let i = 0; !existsSync(socket); i++) {
    if (!alive(driver.pid) || i > 100) throw new Error(`the CSI driver did not serve ${socket}`);
    await sleep(100);
  }
  const volumeId = execFileSync(
    bins.driver,
    ["create-volume", `--endpoint=${socket}`, `--name=${pvc}`, `--size=${String(1 << 20)}`],
    { encoding: "utf8" },
  ).trim();
  await createNamespace(kc, namespace);
  kubectl(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: pvc, namespace },
      spec: {
        accessModes: ["ReadWriteOnce"],
        resources: { requests: { storage: "1Mi" } },
        storageClassName: "",
        volumeName: pvc,
      },
    }),
  );
  const uid = kubectl(cluster, ["get", "pvc", "-n", namespace, pvc, "-o", "jsonpath={.metadata.uid}"]).trim();
  kubectl(
    cluster,
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        {
          apiVersion: "v1",
          kind: "PersistentVolume",
          metadata: { name: pvc },
          spec: {
            capacity: { storage: "1Mi" },
            accessModes: ["ReadWriteOnce"],
            persistentVolumeReclaimPolicy: "Retain",
            storageClassName: "",
            claimRef: { apiVersion: "v1", kind: "PersistentVolumeClaim", namespace, name: pvc, uid },
            csi: { driver: driverName, volumeHandle: volumeId },
          },
        },
        {
          apiVersion: `${group}/${version}`,
          kind: "VolumeSnapshotClass",
          metadata: { name: snapshotClass },
          driver: driverName,
          deletionPolicy: "Delete",
        },
      ],
    }),
  );
  // What the PV controller would write once it bound them; the snapshot-controller checks the PVC's phase.
  kubectl(cluster, ["patch", "pv", pvc, "--subresource=status", "--type=merge", "-p", '{"status":{"phase":"Bound"}}']);
  kubectl(cluster, [
    "patch",
    "pvc",
    "-n",
    namespace,
    pvc,
    "--subresource=status",
    "--type=merge",
    "-p",
    JSON.stringify({ status: { phase: "Bound", accessModes: ["ReadWriteOnce"], capacity: { storage: "1Mi" } } }),
  ]);

  const api = kc.makeApiClient(CustomObjectsApi);
  const recorded = JSON.parse(readFileSync(pidsFile(cluster.dir), "utf8")) as Started[];
  const controlPlane = recorded.filter((r) => r.name === "kube-apiserver" || r.name === "etcd");
  const token = cluster.users.find((u) => u.name === "admin")?.token ?? "";
  const ca = readFileSync(cluster.caFile, "utf8");
  const counts = () => requestCounts(cluster.server, token, ca);
  const snapshots = { group, version, plural: "volumesnapshots", namespace };
  // The apiserver refuses requests for a while after new CRDs (429, storage re-initializing): wait until it serves.
  await retried(() => api.listNamespacedCustomObject(snapshots));
  await retried(() => api.listClusterCustomObject({ group, version, plural: "volumesnapshotcontents" }));

  const readyWith = (prefix: string) => (o: Watched) => o.metadata.name.startsWith(prefix) && snapshotReady(o);
  const run = async (mode: PeerMode): Promise<PeerRun> => {
    const modeDir = join(dir, mode.name);
    // Logging as the binaries default it (klog -v 0), to a file each.
    const common = [`--kubeconfig=${cluster.kubeconfig}`, ...mode.flags];
    const controller = start(modeDir, "snapshot-controller", bins.snapshotController, common);
    const sidecar = start(modeDir, "csi-snapshotter", bins.csiSnapshotter, [...common, `--csi-address=${socket}`]);
    try {
      // One snapshot through the whole stack first: both processes have synced their caches and reached the driver
      // (and the PVC carries the controller's finalizer) before the clock starts.
      const warm = await readyWatch(api, kc, snapshots, 1, readyWith(`${mode.name}-warm-`));
      await runLoad(load, namespace, {
        kind: "volumesnapshot",
        n: 1,
        cls: snapshotClass,
        volume: pvc,
        prefix: `${mode.name}-warm-`,
      });
      await Promise.race([
        warm.done,
        sleep(120_000).then(() => {
          throw new Error(`the peer (${mode.name}) made no snapshot ready in 120 s; logs in ${modeDir}`);
        }),
      ]);
      const pids = new Map<string, number>([
        ...controlPlane.map((r) => [r.name, r.pid] as [string, number]),
        ["snapshot-controller", controller.pid],
        ["csi-snapshotter", sidecar.pid],
        ["csi-driver", driver.pid],
      ]);
      const before = await counts();
      const t0 = performance.now();
      const allReady = await readyWatch(api, kc, snapshots, mode.n, readyWith(`${mode.name}-s-`));
      const { result, cpu } = await cpuDuring(pids, async () => {
        const created = await runLoad(load, namespace, {
          kind: "volumesnapshot",
          n: mode.n,
          cls: snapshotClass,
          volume: pvc,
          prefix: `${mode.name}-s-`,
        });
        await allReady.done;
        return created;
      });
      const seconds = (performance.now() - t0) / 1000;
      cpu.set("client", result.cpuSeconds);
      const writes = writesSince(before, await counts());
      const rss: Record<string, number> = Object.fromEntries([...pids].map(([k, pid]) => [k, rssMiB(pid)]));
      rss.client = result.maxRssKiB / 1024;
      return {
        mode: mode.name,
        flags: mode.flags,
        n: mode.n,
        seconds,
        snapshotsPerSecond: mode.n / seconds,
        writesPerSnapshot: peerWrites(writes) / mode.n,
        writes: Object.fromEntries(writes),
        cpuSeconds: Object.fromEntries(cpu),
        rssMiB: rss,
        peakRssMiB: {
          "snapshot-controller": hwmMiB(controller.pid),
          "csi-snapshotter": hwmMiB(sidecar.pid),
          "csi-driver": hwmMiB(driver.pid),
        },
      };
    } finally {
      await killRecorded(pidsFile(modeDir), 10_000);
      await removeMode(api, mode.name);
    }
  };
  return {
    crds: crdFiles,
    run,
    close: async () => {
      await killRecorded(pidsFile(driverDir), 10_000);
    },
  };
}

interface Listed {
  items: {
    metadata: { name: string; finalizers?: string[] };
    spec?: { driver?: string; volumeSnapshotRef?: { namespace?: string; name?: string } };
  }[];
}

/**
 * Removes a mode's VolumeSnapshots and VolumeSnapshotContents once its controllers are stopped: each is checked to
 * be ours (a snapshot in our namespace with the mode's prefix; a content of our driver bound to such a snapshot),
 * then deleted and its finalizers dropped (nothing runs to remove them now).
 */
async function removeMode(api: CustomObjectsApi, mode: string): Promise<void> {
  const ours = (name: string | undefined) => name?.startsWith(`${mode}-`) === true;
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  const noFinalizers = { metadata: { finalizers: null } };
  const snaps = (await api.listNamespacedCustomObject({
    group,
    version,
    namespace,
    plural: "volumesnapshots",
  })) as Listed;
  const contents = (await api.listClusterCustomObject({ group, version, plural: "volumesnapshotcontents" })) as Listed;
  const mySnaps = snaps.items.filter((s) => ours(s.metadata.name));
  const myContents = contents.items.filter(
    (c) =>
      c.spec?.driver === driverName &&
      c.spec.volumeSnapshotRef?.namespace === namespace &&
      ours(c.spec.volumeSnapshotRef.name),
  );
  const gone = (e: unknown) => {
    if ((e as { code?: number }).code !== 404) throw e;
  };
  await pool(mySnaps.length, async (i) => {
    const name = mySnaps[i]?.metadata.name ?? "";
    await api.deleteNamespacedCustomObject({ group, version, namespace, plural: "volumesnapshots", name }).catch(gone);
    await api
      .patchNamespacedCustomObject(
        { group, version, namespace, plural: "volumesnapshots", name, body: noFinalizers },
        merge,
      )
      .catch(gone);
  });
  await pool(myContents.length, async (i) => {
    const name = myContents[i]?.metadata.name ?? "";
    await api.deleteClusterCustomObject({ group, version, plural: "volumesnapshotcontents", name }).catch(gone);
    await api
      .patchClusterCustomObject({ group, version, plural: "volumesnapshotcontents", name, body: noFinalizers }, merge)
      .catch(gone);
  });
}

/** The issue's targets: the operator's throughput at least this many times the peer's, by mode. */
export const peerTargets: Readonly<Record<string, number>> = { tuned: 10, lifted: 4 };

/**
 * The operator's copies per second to compare with a peer run of n snapshots: at the same N when the operator ran
 * it, else at the largest N it ran (undefined when it ran none).
 */
export function operatorThroughputFor(
  throughput: ReadonlyMap<number, number>,
  n: number,
): [number, number] | undefined {
  const same = throughput.get(n);
  if (same !== undefined) return [n, same];
  const largest = Math.max(...throughput.keys());
  const t = throughput.get(largest);
  return t === undefined ? undefined : [largest, t];
}

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? "—" : x.toFixed(digits));

/**
 * Runs each mode (the default one once, as it is slow; the others `repeat` times, the median run shown) and prints
 * the comparison with the operator's throughput of this run, then CPU and RSS by process. Returns the figures.
 */
export async function peerRuns(
  peer: Peer,
  modes: readonly PeerMode[],
  repeat: number,
  throughput: ReadonlyMap<number, number>,
  say: (s: string) => void,
): Promise<Record<string, unknown>> {
  const byMode: { mode: PeerMode; runs: PeerRun[]; shown: PeerRun }[] = [];
  for (const mode of modes) {
    const runs: PeerRun[] = [];
    for (let k = 0; k < (mode.name === "default" ? 1 : repeat); k++) runs.push(await peer.run(mode));
    const sorted = [...runs].sort((a, b) => a.seconds - b.seconds);
    const shown = sorted[Math.floor(sorted.length / 2)];
    if (shown !== undefined) byMode.push({ mode, runs, shown });
  }
  say(
    "\n| peer: snapshot-controller + csi-snapshotter | flags | N | all readyToUse | snapshots/s | " +
      "peer writes per snapshot | operator copies/s (at N) | operator ÷ peer | target |",
  );
  say("|---|---|---|---|---|---|---|---|---|");
  const comparisons: Record<string, unknown>[] = [];
  for (const { mode, runs, shown } of byMode) {
    const op = operatorThroughputFor(throughput, mode.n);
    const ratio = op === undefined ? undefined : op[1] / shown.snapshotsPerSecond;
    const target = peerTargets[mode.name];
    const met =
      ratio === undefined || target === undefined
        ? "—"
        : `≥ ${String(target)}×: ${ratio >= target ? "met" : "not met"}`;
    const flags = mode.flags.length === 0 ? "none" : `\`${mode.flags.join(" ")}\``;
    const opCell = op === undefined ? "—" : `${op[1].toFixed(1)} (${String(op[0])})`;
    say(
      `| ${mode.name}${runs.length > 1 ? ` (median of ${String(runs.length)})` : ""} | ${flags} | ` +
        `${String(mode.n)} | ${shown.seconds.toFixed(2)} s | ${shown.snapshotsPerSecond.toFixed(2)} | ` +
        `${shown.writesPerSnapshot.toFixed(2)} | ${opCell} | ${ratio === undefined ? "—" : `${ratio.toFixed(1)}×`} | ` +
        `${met} |`,
    );
    comparisons.push({
      mode: mode.name,
      n: mode.n,
      peerSnapshotsPerSecond: shown.snapshotsPerSecond,
      operatorN: op?.[0],
      operatorCopiesPerSecond: op?.[1],
      ratio,
      target,
    });
  }
  const procs = ["etcd", "kube-apiserver", "snapshot-controller", "csi-snapshotter", "csi-driver", "client", "bench"];
  say(`\n| peer run | wall | CPU seconds: ${procs.join(" / ")} |`);
  say("|---|---|---|");
  for (const { runs } of byMode)
    runs.forEach((r, k) => {
      say(
        `| ${r.mode} ${String(k + 1)} (N=${String(r.n)}) | ${r.seconds.toFixed(2)} s | ` +
          `${procs.map((p) => fmt(r.cpuSeconds[p])).join(" / ")} |`,
      );
    });
  const rssProcs = ["snapshot-controller", "csi-snapshotter", "csi-driver", "kube-apiserver", "etcd", "client"];
  say(`\n| peer mode | RSS at the end, MiB (peak): ${rssProcs.join(" / ")} |`);
  say("|---|---|");
  for (const { shown: r } of byMode)
    say(
      `| ${r.mode} | ${rssProcs
        .map((p) => `${fmt(r.rssMiB[p], 0)}${r.peakRssMiB[p] === undefined ? "" : ` (${fmt(r.peakRssMiB[p], 0)})`}`)
        .join(" / ")} |`,
    );
  for (const { shown: r } of byMode) say(`<!-- peer ${r.mode}, writes: ${JSON.stringify(r.writes)} -->`);
  return {
    crds: peer.crds,
    note: "the default mode runs once (it is slow); tuned and lifted run --repeat times, the median run compared",
    comparisons,
    runs: byMode.flatMap((m) => m.runs),
  };
}
