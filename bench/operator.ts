// Operator benchmarks (not tests): `npm run bench:operator [-- --sizes 100,1000 --repeat 3 --cache 10000 --physical
// 20 --peer]`.
//
// The operator runs as the image runs it (dist/main.js, bundled first, with the image's node flags). On a control
// plane of its own, for each N (each measurement run --repeat times, medians shown, every run listed):
//   floor     the API server's own floor: the compiled load client (bench/loadclient, Go over net/http, built from
//             the module proxy and cached) creating N VirtualCopies and writing one status merge patch on each
//             (no operator), with the same request concurrency the load uses; the same floor writing that
//             status by server-side apply, as the operator does; and the operator's writes without the operator
//             (its whole status by that apply, then its Ready Event, both as the operator wrote them for one probe
//             copy made Ready before the floors): the three alternate, run by run;
//   operator  the operator (its own process, embedded engine) taking N VirtualCopies applied at once to Ready;
//             ratio = operator / floor (and / the operator's-writes floor), and copies per second;
//   writes    API writes per copy on the way to Ready, from the apiserver's own apiserver_request_total (what the
//             operator wrote: patches, status, events — not the client's creates), and writes per minute at rest
//             with the N copies Ready (Lease renewals shown apart: leader election writes by design);
//   memory    the operator's RSS with the N copies in its caches;
//   CPU       CPU seconds of etcd, kube-apiserver, the operator, the load client (its own getrusage) and this
//             script (which only watches for Ready) over each run (the two cores are shared by all: where the time
//             goes).
// The operator's N creates come from the same load client. The API server runs the chart's finalizer policy
// (finalizer-policy.ts, as in deploy/admission/; --no-finalizer-policy leaves it out), bound to every namespace but the
// floor's: the floor's copies are deleted after each run, with no operator to take a finalizer off. Figures also go
// to bench/results/operator.json.
// Then, with --cache C: C VirtualCopies created while the operator is down (of a class that does not exist, so the
// engine is not the bottleneck), and the operator's time from start to /readyz, and RSS with all C in cache (settled,
// and the peak during the burst of status writes). With --physical P: P PhysicalCopies through the array's
// two-at-a-time queue against cp of the same bytes onto P files and one sync, --repeat pairs of the two, each
// operator round onto targets of its own. With --peer, once the operator has
// stopped: the upstream snapshot-controller and csi-snapshotter over our CSI driver's fixture mode (bench/peer.ts),
// N VolumeSnapshots to readyToUse from the same load client, with default flags (--peer-default-n of them), tuned
// and with limits lifted (the largest N), against the operator's copies per second of this run.
// Figures are medians where runs repeat; the machine is shared: compare ratios.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CustomObjectsApi, EventsV1Api, KubeConfig, type EventsV1Event } from "@kubernetes/client-node";
import { buildDist, distDir } from "../hack/build.ts";
import { startCluster, stopCluster } from "../hack/control-plane/cluster.ts";
import { operatorNodeFlags, startOperatorProcess, type OperatorProcess } from "../hack/demo/operator-process.ts";
import { finalizerPolicy } from "../operator/src/controllers/shared/finalizer-policy.ts";
import { copyFinalizer } from "../operator/src/controllers/shared/objects.ts";
import { openEmbeddedEngine } from "../operator/src/engine/embedded/engine.ts";
import {
  buildLoadClient,
  concurrency,
  cpuDuring,
  createNamespace,
  hwmMiB,
  median,
  operatorReconciles,
  pool,
  readyWatch,
  requestCounts,
  rssMiB,
  runLoad,
  showCpu,
  sum,
  writesSince,
  type FloorWrites,
  type Load,
} from "./measure.ts";
import { peerModes, peerRuns, startPeer } from "./peer.ts";
import { writeResults } from "./results.ts";

const group = "arraycopy.io";
const version = "v1alpha1";
const plural = "virtualcopies";

const { values } = parseArgs({
  allowNegative: true,
  options: {
    sizes: { type: "string", default: "100,1000" },
    cache: { type: "string", default: "0" },
    rest: { type: "string", default: "60" },
    "heap-mib": { type: "string" },
    // The operator's node flags; default those of the image (operatorNodeFlags); "" for none.
    "node-flags": { type: "string" },
    physical: { type: "string", default: "0" },
    // Runs of each floor and operator measurement; the table shows medians.
    repeat: { type: "string", default: "3" },
    "physical-mib": { type: "string", default: "256" },
    // The upstream snapshot stack in the same run (bench/peer.ts): default flags, tuned, limits lifted.
    peer: { type: "boolean", default: false },
    // Snapshots of the peer's default-flags mode (about 0.55/s: 100 take about 3 minutes); the other modes make as
    // many as the largest --sizes.
    "peer-default-n": { type: "string", default: "100" },
    // The chart's finalizer policy (deploy/admission/finalizer-policy.yaml) on the bench's API server, as the chart
    // installs it: the API server puts the copy finalizer on at create. --no-finalizer-policy measures without it.
    "finalizer-policy": { type: "boolean", default: true },
  },
});
// The operator runs as the image runs it: bundled (dist/main.js, built below by hack/build.ts) with the image's node
// flags, plus an optional V8 heap cap as a container memory limit might impose.
const nodeFlags = [
  ...(values["node-flags"] === undefined ? operatorNodeFlags : values["node-flags"].split(" ").filter((f) => f !== "")),
  ...(values["heap-mib"] === undefined ? [] : [`--max-old-space-size=${values["heap-mib"]}`]),
];
const entry = join(distDir, "main.js");
const sizes = values.sizes.split(",").map(Number);
const cacheN = Number(values.cache);
const repeat = Math.max(1, Number(values.repeat));
const restSeconds = Number(values.rest);
const physicalN = Number(values.physical);
const physicalBytes = Number(values["physical-mib"]) * 1024 * 1024;
const peerDefaultN = Number(values["peer-default-n"]);

const say = (s: string) => {
  process.stdout.write(`${s}\n`);
};

/**
 * The label of the floor's namespaces, which the finalizer policy's binding leaves out: the floor's copies (of a
 * class that does not exist, deleted after each run) must not get a finalizer that only an operator could take off.
 */
const floorLabel = "bench.arraycopy.io/floor";

/**
 * Applies the finalizer policy, bound to every namespace but the floor's, and waits until the API server admits
 * creates through it (a server dry run).
 */
async function installFinalizerPolicy(kubectl: string, kubeconfig: string): Promise<void> {
  const namespaceSelector = { matchExpressions: [{ key: floorLabel, operator: "DoesNotExist" }] };
  const applied = spawnSync(kubectl, [`--kubeconfig=${kubeconfig}`, "apply", "-f", "-"], {
    input: JSON.stringify({ apiVersion: "v1", kind: "List", items: finalizerPolicy({ namespaceSelector }) }),
    encoding: "utf8",
  });
  if (applied.status !== 0) throw new Error(`cannot install the finalizer policy: ${applied.stderr}`);
  const probe = JSON.stringify(vc("default", "policy-probe", "bench"));
  for (let i = 0; i < 100; i++) {
    const res = spawnSync(
      kubectl,
      [`--kubeconfig=${kubeconfig}`, "create", "--dry-run=server", "-o", "json", "-f", "-"],
      {
        input: probe,
        encoding: "utf8",
      },
    );
    if (res.status === 0 && res.stdout.includes(copyFinalizer)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("the finalizer policy did not take effect within 10 s");
}

function vc(ns: string, name: string, cls: string) {
  return {
    apiVersion: `${group}/${version}`,
    kind: "VirtualCopy",
    metadata: { name, namespace: ns },
    spec: { copyClassName: cls, source: { volumeName: "bench-src" } },
  };
}

/** The Event fields the operator chooses; the rest (metadata, the server's deprecated* copies) are not copied. */
const eventFields = [
  "reportingController",
  "reportingInstance",
  "action",
  "reason",
  "regarding",
  "related",
  "note",
  "type",
] as const;

/**
 * What the operator writes for one copy on its way to Ready, as it wrote it: the operator (already started) makes
 * one VirtualCopy Ready in a namespace of its own; its status and its Ready Event are saved in `dir` as the bodies
 * the floor of the operator's writes sends, so that floor writes the operator's whole status (every CIM field, all
 * its conditions) and Event, not a one-condition stand-in. The copy is deleted (the operator takes its finalizer
 * off) before this returns.
 */
async function probeOperatorWrites(
  api: CustomObjectsApi,
  load: Load,
  kc: KubeConfig,
  dir: string,
): Promise<{ status: string; event: string }> {
  const namespace = "probe-writes";
  const name = "probe-0";
  await createNamespace(kc, namespace);
  const ready = await readyWatch(api, kc, { group, version, plural, namespace }, 1);
  await runLoad(load, namespace, { n: 1, cls: "bench", prefix: "probe-" });
  await ready.done;
  const vc = (await api.getNamespacedCustomObject({ group, version, namespace, plural, name })) as {
    status?: Record<string, unknown>;
  };
  const events = kc.makeApiClient(EventsV1Api);
  let event: EventsV1Event | undefined;
  for (let i = 0; event === undefined; i++) {
    if (i === 300) throw new Error(`the operator posted no Ready Event for ${namespace}/${name} within 30 s`);
    const list = await events.listNamespacedEvent({ namespace });
    event = list.items.find((e) => e.reason === "Ready" && e.regarding?.name === name);
    if (event === undefined) await new Promise((r) => setTimeout(r, 100));
  }
  if (vc.status === undefined) throw new Error(`${namespace}/${name} is Ready with no status`);
  // These fields' names in the model are their names on the wire (regarding is a plain object reference).
  const wire = event as unknown as Record<string, unknown>;
  const status = join(dir, "operator-status.json");
  const eventFile = join(dir, "operator-event.json");
  writeFileSync(status, JSON.stringify({ status: vc.status }));
  writeFileSync(
    eventFile,
    JSON.stringify(Object.fromEntries(eventFields.flatMap((k) => (wire[k] === undefined ? [] : [[k, wire[k]]])))),
  );
  await api.deleteNamespacedCustomObject({ group, version, namespace, plural, name });
  for (let i = 0; ; i++) {
    try {
      await api.getNamespacedCustomObject({ group, version, namespace, plural, name });
    } catch (e) {
      if ((e as { code?: number }).code === 404) break;
      throw e;
    }
    if (i === 300) throw new Error(`the operator did not finish deleting ${namespace}/${name} within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
  return { status, event: eventFile };
}

/**
 * The floor: the load client creates N objects and writes one status on each, `concurrency` in flight: a merge
 * patch (the cheapest status write), or server-side apply (the operator's kind of status write); "apply+event"
 * then posts one Event on each as the operator's Ready Event: the operator's own writes, with no operator (its
 * status and Event from `bodies`, the probe's).
 */
async function floor(
  load: Load,
  kc: KubeConfig,
  n: number,
  pids: ReadonlyMap<string, number>,
  ns: string,
  status: FloorWrites,
  bodies: { status: string; event: string },
): Promise<{ ms: number; cpu: Map<string, number> }> {
  await createNamespace(kc, ns, { [floorLabel]: "true" });
  const start = performance.now();
  const { result, cpu } = await cpuDuring(pids, () => runLoad(load, ns, { n, cls: "floor", status, bodies }));
  if (result.statusWrites !== n) throw new Error(`the floor wrote ${String(result.statusWrites)} statuses of ${n}`);
  if (status === "apply+event" && result.events !== n)
    throw new Error(`the floor posted ${String(result.events)} Events of ${n}`);
  cpu.set("client", result.cpuSeconds);
  return { ms: performance.now() - start, cpu };
}

async function operatorRun(
  api: CustomObjectsApi,
  load: Load,
  kc: KubeConfig,
  op: OperatorProcess,
  n: number,
  counts: () => Promise<Map<string, number>>,
  pids: ReadonlyMap<string, number>,
  ns: string,
  restSeconds: number,
) {
  await createNamespace(kc, ns);
  const before = await counts();
  const reconcilesBefore = await operatorReconciles(op.url, "virtualcopy");
  const start = performance.now();
  const allReady = await readyWatch(api, kc, { group, version, plural, namespace: ns }, n);
  const { result, cpu } = await cpuDuring(new Map([...pids, ["operator", op.pid]]), async () => {
    const created = await runLoad(load, ns, { n, cls: "bench" });
    await allReady.done;
    return created;
  });
  cpu.set("client", result.cpuSeconds);
  const ms = performance.now() - start;
  // The copies are Ready when their statuses land; their Ready Events follow. The writes are read once the
  // operator has stopped writing (no write but the Lease's for half a second), so that the last Events count among
  // the way to Ready and not as writes at rest.
  let last = await counts();
  for (let quiet = false, tries = 0; !quiet && tries < 40; tries++) {
    await new Promise((r) => setTimeout(r, 500));
    const now = await counts();
    quiet = sum(writesSince(last, now), (k) => !k.includes("leases")) === 0;
    last = now;
  }
  const writes = writesSince(before, last);
  const reconciles = (await operatorReconciles(op.url, "virtualcopy")) - reconcilesBefore;
  const operatorWrites = sum(
    writes,
    (k) => !k.startsWith("POST virtualcopies") && !k.includes("leases") && !k.startsWith("POST namespaces"),
  );
  const restBefore = await counts();
  await new Promise((r) => setTimeout(r, restSeconds * 1000));
  const rest = writesSince(restBefore, await counts());
  const perMinute = (m: number) => (restSeconds === 0 ? Number.NaN : (m * 60) / restSeconds);
  return {
    ms,
    cpu,
    writes,
    rest,
    perCopy: operatorWrites / n,
    reconcilesPerCopy: reconciles / n,
    restPerMinute: perMinute(sum(rest, (k) => !k.includes("leases"))),
    leasePerMinute: perMinute(sum(rest, (k) => k.includes("leases"))),
    rss: rssMiB(op.pid),
  };
}

/**
 * N PhysicalCopies of one volume through the array's two-at-a-time queue, against cp of the same data onto N files
 * plus one sync, and dd with direct writes (the disk's limit); `rounds` pairs, each an operator round (its own
 * namespace and targets) then the two baselines, so a noisy moment of the disk falls on both halves of a pair.
 */
async function physicalRun(
  api: CustomObjectsApi,
  kc: KubeConfig,
  n: number,
  rounds: number,
  srcFile: string,
  dir: string,
  pids: ReadonlyMap<string, number>,
  counts: () => Promise<Map<string, number>>,
): Promise<Record<string, unknown>> {
  /** Copies srcFile onto n distinct files with `command` (its arguments for one target), timed to all durable. */
  const copies = (command: string, args: (out: string) => string[], syncAfter: boolean): number => {
    spawnSync("sync");
    const outs = Array.from({ length: n }, (_, i) => join(dir, `${command}-dst-${String(i)}.bin`));
    const start = performance.now();
    for (const out of outs) {
      const res = spawnSync(command, args(out));
      if (res.status !== 0) throw new Error(`${command} failed: ${res.stderr.toString()}`);
    }
    if (syncAfter) spawnSync("sync");
    const ms = performance.now() - start;
    for (const out of outs) rmSync(out);
    return ms;
  };
  // The same work as the operator's: n distinct targets, all durable at the end (one sync). Copying onto one file n
  // times would let each copy's truncation drop the previous one's dirty pages, so only the last would reach disk.
  const cp = () => copies("cp", (out) => ["--sparse=always", srcFile, out], true);
  // The disk's own limit, for reference: the same bytes onto n files by dd with direct 4 MiB writes, each file
  // fdatasync'd (one stream, no page cache: what the engine's copier does, without the engine).
  const ddDirect = () =>
    copies(
      "dd",
      (out) => [`if=${srcFile}`, `of=${out}`, "bs=4M", "oflag=direct", "conv=fdatasync", "status=none"],
      false,
    );
  const round = async (r: number) => {
    const ns = `physical-${String(r)}`;
    await createNamespace(kc, ns);
    spawnSync("sync");
    const writesBefore = await counts();
    const start = performance.now();
    const allReady = await readyWatch(api, kc, { group, version, plural: "physicalcopies", namespace: ns }, n);
    const { cpu } = await cpuDuring(pids, async () => {
      await pool(n, async (i) => {
        const body = {
          apiVersion: `${group}/${version}`,
          kind: "PhysicalCopy",
          metadata: { name: `p-${String(i)}`, namespace: ns },
          spec: {
            copyClassName: "bench",
            source: { volumeName: "pc-src" },
            target: { volumeName: physicalTarget(r, i) },
          },
        };
        await api.createNamespacedCustomObject({ group, version, namespace: ns, plural: "physicalcopies", body });
      });
      await allReady.done;
    });
    const ms = performance.now() - start;
    const writesBy = writesSince(writesBefore, await counts());
    // The array tasks' timeline, from the CopyJobs' CIM times (whole seconds): when the operator submitted each,
    // when the array started and finished it. Printed as a comment, for reading where the time went.
    const jobs = (await api.listNamespacedCustomObject({ group, version, namespace: ns, plural: "copyjobs" })) as {
      items: {
        metadata: { name: string };
        status?: { timeSubmitted?: string; startTime?: string; completionTime?: string };
      }[];
    };
    const t0 = Date.now() - ms;
    const at = (t: string | undefined) => (t === undefined ? "-" : ((Date.parse(t) - t0) / 1000).toFixed(0));
    const rows = jobs.items
      .map((j) => {
        const t = j.status;
        return `${j.metadata.name}: ${at(t?.timeSubmitted)}/${at(t?.startTime)}/${at(t?.completionTime)}`;
      })
      .sort();
    const title = `round ${String(r + 1)}, copy jobs, seconds from the first apply, submitted/started/finished`;
    say(`<!-- ${title}: ${rows.join(", ")} -->`);
    return { ms, cpu, writesBy };
  };
  const mib = (n * physicalBytes) / 1048576;
  const pairs: { operatorMs: number; cpMs: number; ddMs: number; cpu: Map<string, number>; writes: number }[] = [];
  for (let r = 0; r < rounds; r++) {
    const o = await round(r);
    const cpMs = cp();
    const ddMs = ddDirect();
    pairs.push({ operatorMs: o.ms, cpMs, ddMs, cpu: o.cpu, writes: sum(o.writesBy) });
    if (r === rounds - 1) say(`<!-- writes of the last round: ${JSON.stringify(Object.fromEntries(o.writesBy))} -->`);
  }
  const ratios = pairs.map((p) => p.operatorMs / p.cpMs);
  say(
    `\n| ${String(n)} PhysicalCopies of ${String(physicalBytes / 1048576)} MiB, pair | operator, all Ready (2 at ` +
      `a time) | cp --sparse=always to ${String(n)} files + sync | operator ÷ cp | dd, direct 4 MiB writes, ` +
      `fdatasync each | operator ÷ dd | operator CPU | API writes |`,
  );
  say("|---|---|---|---|---|---|---|---|");
  const at = (ms: number) => `${(ms / 1000).toFixed(2)} s (${(mib / (ms / 1000)).toFixed(0)} MiB/s)`;
  pairs.forEach((p, i) => {
    say(
      `| ${String(i + 1)} (${mib.toFixed(0)} MiB) | ${at(p.operatorMs)} | ${at(p.cpMs)} | ` +
        `${(p.operatorMs / p.cpMs).toFixed(2)}× | ${at(p.ddMs)} | ${(p.operatorMs / p.ddMs).toFixed(2)}× | ` +
        `${(p.cpu.get("operator") ?? 0).toFixed(1)} CPU-s | ${String(p.writes)} |`,
    );
  });
  const ddRatio = median(pairs.map((p) => p.operatorMs / p.ddMs));
  say(
    `| median | ${at(median(pairs.map((p) => p.operatorMs)))} | ${at(median(pairs.map((p) => p.cpMs)))} | ` +
      `**${median(ratios).toFixed(2)}×** (${(1 / median(ratios)).toFixed(2)}× cp + sync's speed) | ` +
      `${at(median(pairs.map((p) => p.ddMs)))} | **${ddRatio.toFixed(2)}×** | | |`,
  );
  say(`\nCPU seconds while the operator copied, by round: ${pairs.map((p) => showCpu(p.cpu)).join("; ")}.`);
  return {
    copies: n,
    mibEach: physicalBytes / 1048576,
    operatorSeconds: median(pairs.map((p) => p.operatorMs)) / 1000,
    cpSeconds: median(pairs.map((p) => p.cpMs)) / 1000,
    ddDirectSeconds: median(pairs.map((p) => p.ddMs)) / 1000,
    ratio: median(ratios),
    ddDirectRatio: ddRatio,
    pairs: pairs.map((p) => ({
      operatorSeconds: p.operatorMs / 1000,
      cpSeconds: p.cpMs / 1000,
      ddDirectSeconds: p.ddMs / 1000,
      apiWrites: p.writes,
      cpuSeconds: Object.fromEntries(p.cpu),
    })),
  };
}

/** The target volume of copy i in physical round r. */
function physicalTarget(r: number, i: number): string {
  return `pc-dst-${String(r)}-${String(i)}`;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "bench-operator-"));
  // Gigabytes of engine data and cp targets when --physical runs: gone at exit, however it ends (ARRAYCOPY_BENCH_KEEP
  // keeps them, and the operator's log, for a look).
  if (process.env["ARRAYCOPY_BENCH_KEEP"] === undefined) {
    process.on("exit", () => {
      rmSync(dir, { recursive: true, force: true });
    });
  } else {
    say(`<!-- kept: ${dir} -->`);
  }
  say(
    `# operator benchmark, ${new Date().toISOString()}, ${String((await import("node:os")).cpus().length)} ` +
      `cores, sizes ${sizes.join(",")} (medians of ${String(repeat)}), cache ${String(cacheN)}, ` +
      `operator: node ${nodeFlags.join(" ")} dist/main.js`,
  );
  await buildDist();
  const cluster = await startCluster({ dir: join(dir, "cluster"), ownerPid: process.pid, log: () => undefined });
  const kc = new KubeConfig();
  kc.loadFromFile(cluster.kubeconfig);
  const api = kc.makeApiClient(CustomObjectsApi);
  const token = cluster.users.find((u) => u.name === "admin")?.token ?? "";
  const ca = readFileSync(cluster.caFile, "utf8");
  const load: Load = { bin: buildLoadClient(), server: cluster.server, token, caFile: cluster.caFile };
  const counts = () => requestCounts(cluster.server, token, ca);
  const recorded = JSON.parse(readFileSync(join(cluster.dir, "pids.json"), "utf8")) as { name: string; pid: number }[];
  const pids = new Map(
    recorded.filter((r) => r.name === "kube-apiserver" || r.name === "etcd").map((r) => [r.name, r.pid]),
  );
  spawnSync(cluster.kubectl, [
    `--kubeconfig=${cluster.kubeconfig}`,
    "apply",
    "--server-side",
    "-f",
    join(import.meta.dirname, "..", "crds"),
  ]);
  spawnSync(cluster.kubectl, [
    `--kubeconfig=${cluster.kubeconfig}`,
    "wait",
    "--for=condition=Established",
    "crd",
    "--all",
  ]);
  if (values["finalizer-policy"]) await installFinalizerPolicy(cluster.kubectl, cluster.kubeconfig);
  spawnSync(cluster.kubectl, [`--kubeconfig=${cluster.kubeconfig}`, "apply", "-f", "-"], {
    input: JSON.stringify({
      apiVersion: `${group}/${version}`,
      kind: "CopyClass",
      metadata: { name: "bench" },
      spec: { driver: "embedded" },
    }),
  });
  const dataDir = join(dir, "data");
  const engine = await openEmbeddedEngine({ dataDir: join(dataDir, "bench") });
  await engine.createVolume("bench-src", 1 << 20);
  const srcFile = join(dir, "pc-src.bin");
  if (physicalN > 0) {
    // The same bytes in a volume and in a plain file, for the copies and for the cp baseline.
    const { randomBytes } = await import("node:crypto");
    const { openSync, writeSync, closeSync } = await import("node:fs");
    await engine.createVolume("pc-src", physicalBytes);
    const fd = openSync(srcFile, "w");
    for (let off = 0; off < physicalBytes; off += 8 << 20) {
      const chunk = randomBytes(Math.min(8 << 20, physicalBytes - off));
      await engine.writeVolume("pc-src", off, chunk);
      writeSync(fd, chunk);
    }
    closeSync(fd);
    for (let r = 0; r < repeat; r++)
      for (let i = 0; i < physicalN; i++) await engine.createVolume(physicalTarget(r, i), physicalBytes);
  }
  await engine.close();
  const startOperator = (log: string) =>
    startOperatorProcess({
      kubeconfig: cluster.kubeconfig,
      dataDir,
      logFile: join(dir, log),
      pidsFile: join(dir, "operator-pids.json"),
      ownerPid: process.pid,
      entry,
      nodeFlags,
      extraArgs: ["--leader-elect", "true", "--lease-namespace", "default", "--log-level", "info"],
    });
  // The operator's own status and Ready Event, for the floor of its writes; then it stops until the floors are done.
  const probe = await startOperator("operator-probe.log");
  const bodies = await probeOperatorWrites(api, load, kc, dir).finally(() => probe.stop());
  // Floors first, with no operator running, and their objects gone before it starts (it would reconcile them).
  // Each run measures both floors, alternately, so that a noisy moment falls on both.
  const floors = new Map<number, { ms: number; cpu: Map<string, number> }[]>();
  const applyFloors = new Map<number, { ms: number; cpu: Map<string, number> }[]>();
  const writesFloors = new Map<number, { ms: number; cpu: Map<string, number> }[]>();
  for (const n of sizes) {
    const runs: { ms: number; cpu: Map<string, number> }[] = [];
    const applyRuns: { ms: number; cpu: Map<string, number> }[] = [];
    const writesRuns: { ms: number; cpu: Map<string, number> }[] = [];
    for (let k = 0; k < repeat; k++) {
      for (const [status, into] of [
        ["merge", runs],
        ["apply", applyRuns],
        ["apply+event", writesRuns],
      ] as const) {
        const ns = `floor-${status.replace("+", "-")}-${String(n)}-${String(k)}`;
        into.push(await floor(load, kc, n, pids, ns, status, bodies));
        await api.deleteCollectionNamespacedCustomObject({ group, version, namespace: ns, plural });
      }
    }
    floors.set(n, runs);
    applyFloors.set(n, applyRuns);
    writesFloors.set(n, writesRuns);
  }
  const op = await startOperator("operator.log");
  const figures: Record<string, unknown> = {
    args: {
      sizes,
      repeat,
      cache: cacheN,
      rest: restSeconds,
      physical: physicalN,
      nodeFlags,
      peer: values.peer,
      peerDefaultN,
      finalizerPolicy: values["finalizer-policy"],
    },
    concurrency,
    // What the floor of the operator's writes sent on each copy: the probe copy's status and Ready Event.
    operatorWrites: {
      status: (JSON.parse(readFileSync(bodies.status, "utf8")) as { status: unknown }).status,
      event: JSON.parse(readFileSync(bodies.event, "utf8")) as unknown,
    },
  };
  const perSize: Record<string, unknown>[] = [];
  figures.sizes = perSize;
  // The operator's copies per second by N, for the peer's comparison.
  const throughput = new Map<number, number>();
  try {
    const cpuRows: string[] = [];
    say(
      `\n| N | floor (compiled client: create + 1 status merge patch) | floor, status by server-side apply | ` +
        `floor, the operator's writes (apply + Ready Event) | operator: all Ready | ratio | ratio to the writes ` +
        `floor | copies/s | operator writes per copy | reconciles per copy | writes/min at rest (Lease apart) | ` +
        `operator RSS |`,
    );
    say("|---|---|---|---|---|---|---|---|---|---|---|---|");
    for (const n of sizes) {
      const fls = floors.get(n) ?? [];
      const afls = applyFloors.get(n) ?? [];
      const wfls = writesFloors.get(n) ?? [];
      const ops: Awaited<ReturnType<typeof operatorRun>>[] = [];
      // The rest period follows the last run only.
      for (let k = 0; k < repeat; k++)
        ops.push(
          await operatorRun(
            api,
            load,
            kc,
            op,
            n,
            counts,
            pids,
            `op-${String(n)}-${String(k)}`,
            k === repeat - 1 ? restSeconds : 0,
          ),
        );
      const o = ops[ops.length - 1];
      if (o === undefined) continue;
      const f = median(fls.map((x) => x.ms));
      const fa = median(afls.map((x) => x.ms));
      const fw = median(wfls.map((x) => x.ms));
      const oMs = median(ops.map((x) => x.ms));
      for (const [label, runs] of [
        ["floor", fls],
        ["floor, apply", afls],
        ["floor, apply + Event", wfls],
        ["operator", ops],
      ] as const)
        runs.forEach((x, k) =>
          cpuRows.push(
            `| ${String(n)} | ${label} ${String(k + 1)} | ${(x.ms / 1000).toFixed(2)} s | ${showCpu(x.cpu)} |`,
          ),
        );
      say(
        `| ${String(n)} | ${(f / 1000).toFixed(2)} s | ${(fa / 1000).toFixed(2)} s | ${(fw / 1000).toFixed(2)} s | ` +
          `${(oMs / 1000).toFixed(2)} s | ${(oMs / f).toFixed(2)}× | ${(oMs / fw).toFixed(2)}× | ` +
          `${(n / (oMs / 1000)).toFixed(1)} | ` +
          `${median(ops.map((x) => x.perCopy)).toFixed(2)} | ` +
          `${median(ops.map((x) => x.reconcilesPerCopy)).toFixed(2)} | ` +
          `${o.restPerMinute.toFixed(1)} (Lease ${o.leasePerMinute.toFixed(0)}) | ${o.rss.toFixed(0)} MiB |`,
      );
      const cpuOf = (m: ReadonlyMap<string, number>) => Object.fromEntries(m);
      throughput.set(n, n / (oMs / 1000));
      perSize.push({
        n,
        floorSeconds: f / 1000,
        floorApplySeconds: fa / 1000,
        floorOperatorWritesSeconds: fw / 1000,
        operatorSeconds: oMs / 1000,
        ratio: oMs / f,
        ratioToOperatorWritesFloor: oMs / fw,
        copiesPerSecond: n / (oMs / 1000),
        operatorWritesPerCopy: median(ops.map((x) => x.perCopy)),
        reconcilesPerCopy: median(ops.map((x) => x.reconcilesPerCopy)),
        writesPerMinuteAtRest: o.restPerMinute,
        leaseWritesPerMinute: o.leasePerMinute,
        operatorRssMiB: o.rss,
        floorRuns: fls.map((x) => ({ seconds: x.ms / 1000, cpuSeconds: cpuOf(x.cpu) })),
        floorApplyRuns: afls.map((x) => ({ seconds: x.ms / 1000, cpuSeconds: cpuOf(x.cpu) })),
        floorOperatorWritesRuns: wfls.map((x) => ({ seconds: x.ms / 1000, cpuSeconds: cpuOf(x.cpu) })),
        operatorRuns: ops.map((x) => ({
          seconds: x.ms / 1000,
          cpuSeconds: cpuOf(x.cpu),
          writesPerCopy: x.perCopy,
          reconcilesPerCopy: x.reconcilesPerCopy,
          writes: Object.fromEntries(x.writes),
        })),
        writesOfLastRun: Object.fromEntries(o.writes),
        writesAtRest: Object.fromEntries(o.rest),
      });
      say(
        `<!-- N=${String(n)}, medians of ${String(repeat)}: floor runs ` +
          `${fls.map((x) => (x.ms / 1000).toFixed(2)).join(", ")} s; apply floor runs ` +
          `${afls.map((x) => (x.ms / 1000).toFixed(2)).join(", ")} s; apply + Event floor runs ` +
          `${wfls.map((x) => (x.ms / 1000).toFixed(2)).join(", ")} s; operator runs ` +
          `${ops.map((x) => (x.ms / 1000).toFixed(2)).join(", ")} s; ` +
          `writes of the last: ${JSON.stringify(Object.fromEntries(o.writes))}; ` +
          `at rest: ${JSON.stringify(Object.fromEntries(o.rest))} -->`,
      );
    }
    say("\n| N | run | wall | CPU seconds by process (2 cores: at most 2 CPU-seconds per second) |");
    say("|---|---|---|---|");
    for (const row of cpuRows) say(row);
    if (physicalN > 0)
      figures.physical = await physicalRun(
        api,
        kc,
        physicalN,
        repeat,
        srcFile,
        dir,
        new Map([...pids, ["operator", op.pid]]),
        counts,
      );
  } finally {
    await op.stop(10_000);
  }
  if (values.peer) {
    const peer = await startPeer(cluster, kc, load, join(dir, "peer"));
    try {
      figures.peer = await peerRuns(peer, peerModes(Math.max(...sizes), peerDefaultN), repeat, throughput, say);
    } finally {
      await peer.close();
    }
  }
  if (cacheN > 0) {
    const ns = "cache";
    await createNamespace(kc, ns);
    const t = performance.now();
    await pool(cacheN, async (i) => {
      await api.createNamespacedCustomObject({
        group,
        version,
        namespace: ns,
        plural,
        body: vc(ns, `c-${String(i)}`, "no-such-class"),
      });
    });
    say(
      `\ncreated ${String(cacheN)} VirtualCopies of a missing class in ` +
        `${((performance.now() - t) / 1000).toFixed(1)} s`,
    );
    const start = performance.now();
    const op2 = await startOperatorProcess({
      kubeconfig: cluster.kubeconfig,
      dataDir,
      logFile: join(dir, "operator2.log"),
      pidsFile: join(dir, "operator2-pids.json"),
      ownerPid: process.pid,
      entry,
      nodeFlags,
      extraArgs: ["--leader-elect", "false", "--log-level", "info"],
    });
    try {
      while (
        (await fetch(`${op2.url}/readyz`).then(
          (r) => r.status,
          () => 0,
        )) !== 200
      )
        await new Promise((r) => setTimeout(r, 50));
      const ready = performance.now() - start;
      let stalled = 0;
      while (stalled < cacheN) {
        await new Promise((r) => setTimeout(r, 2000));
        const list = (await api.listNamespacedCustomObject({ group, version, namespace: ns, plural })) as {
          items: { status?: { conditions?: { type: string; reason: string }[] } }[];
        };
        stalled = list.items.filter((o) =>
          o.status?.conditions?.some((c) => c.type === "Ready" && c.reason === "ClassNotFound"),
        ).length;
      }
      const settled = performance.now() - start;
      // RSS with the C objects cached: the peak (VmHWM, during the burst of status writes) and, settled, the median
      // of 5 readings a second apart, 10 s after the last write.
      const peak = hwmMiB(op2.pid);
      await new Promise((r) => setTimeout(r, 10_000));
      const readings: number[] = [];
      for (let i = 0; i < 5; i++) {
        readings.push(rssMiB(op2.pid));
        await new Promise((r) => setTimeout(r, 1000));
      }
      const rss = readings.sort((a, b) => a - b)[2] ?? 0;
      say(
        `| objects in cache | start to /readyz | start to every object's status written | operator RSS, ` +
          `settled | peak RSS |`,
      );
      say(`|---|---|---|---|---|`);
      say(
        `| ${String(cacheN + repeat * sizes.reduce((a, b) => a + b, 0))} (${String(cacheN)} of a missing ` +
          `class) | ${(ready / 1000).toFixed(2)} s | ${(settled / 1000).toFixed(1)} s | ` +
          `${rss.toFixed(0)} MiB | ${peak.toFixed(0)} MiB |`,
      );
      figures.cache = {
        objects: cacheN + repeat * sizes.reduce((a, b) => a + b, 0),
        ofMissingClass: cacheN,
        startToReadySeconds: ready / 1000,
        startToSettledSeconds: settled / 1000,
        rssSettledMiB: rss,
        rssPeakMiB: peak,
      };
    } finally {
      await op2.stop(10_000);
    }
  }
  say(`\nfigures written to ${writeResults("operator", figures)}`);
  await stopCluster(cluster.dir, 3_000);
}

await main();
