// Chaos: 50 mixed lifecycles (virtual copies, offline and online physical copies, resyncs, restores, deletions
// under both policies) applied in waves on a control plane of this project's own (test/chaos/setup.ts), while
//   - the operator, running as its own process on an embedded data directory, is SIGKILLed at random moments and
//     started again (it reopens the data directory its predecessor held);
//   - kube-apiserver is restarted (after an etcd compaction, so the operator's watches come back 410 Gone and its
//     informers relist), etcd is restarted once, and etcd is compacted again while watches are open;
//   - then, in a last phase, the operator runs in-process with every engine call liable to fail (unavailable,
//     busy, applied-then-timed-out) or stall, for one more wave of lifecycles and deletions.
// Randomness is a seeded RNG (CHAOS_SEED, printed); engine and process timing is not seedable, so a run is
// repeatable in its plan, not in every interleaving.
//
// Pass means, checked against the engine reopened on the data directory once the operator stopped:
//   - every resource converged to the truth: a copy is Ready, or shows the failure the engine holds (a job that a
//     SIGKILL interrupted is resumed by the next operator's engine from its checkpoint and goes on, as an array's
//     task would); every job is in a final state equal to the engine's record of its array job;
//   - one array object per live copy, none twice, none for a deleted copy unless Retain (an offline copy deleted
//     with Delete keeps its target volume, which is the user's, with its association ended);
//   - no finalizer stranded: every deleted resource is gone;
//   - bytes: every copy the engine calls complete is byte-identical to its source.
import { createHash, randomBytes } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { restartComponent } from "../../hack/control-plane/cluster.ts";
import { startOperatorProcess, type OperatorProcess } from "../../hack/demo/operator-process.ts";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import type { CopyObservation, Engine } from "../../operator/src/engine/port.ts";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { cluster, eventually, freshNamespace, installCrds, kubectlAsync, kubectlAsyncOk } from "../support/cluster.ts";
import { FaultyEngine, type Fault } from "../support/faulty-engine.ts";
import { conditionOf, embeddedClass, startOperator, type ConditionView } from "../support/operator.ts";

const api = "arraycopy.io/v1alpha1";
// CI runs one verified seed (it found a real leak, since fixed), so a landing never hinges on an unexplored one;
// CHAOS_SEED=random explores, and any printed seed repeats its plan.
const verifiedSeed = 1559676044;
const seedEnv = process.env.CHAOS_SEED;
const seed = seedEnv === "random" ? Math.floor(Math.random() * 2 ** 31) : Number(seedEnv ?? verifiedSeed);
const cls = "chaos";
// Big enough that copies are still running when a SIGKILL lands (the engine copies at ~2 GB/s on this machine).
const srcSize = 96 << 20;
const baseSize = 4 << 20;
const sources = ["src-0", "src-1", "src-2", "src-3"];

/** mulberry32: small, seedable, good enough to pick moments and faults. */
function rng(s: number): () => number {
  let a = s >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const random = rng(seed);
const between = (lo: number, hi: number) => lo + Math.floor(random() * (hi - lo));

interface Obj {
  kind: string;
  metadata: {
    name: string;
    uid: string;
    generation?: number;
    finalizers?: string[];
    deletionTimestamp?: string;
    ownerReferences?: { uid: string }[];
  };
  spec: Record<string, unknown> & {
    copyRef?: { kind: string; name: string };
    deletionPolicy?: string;
    target?: { volumeName?: string; create?: unknown };
    source?: { volumeName?: string };
  };
  status?: Record<string, unknown> & {
    conditions?: ConditionView[];
    arrayName?: string;
    targetVolume?: string;
    arrayJobId?: string;
    jobState?: string;
  };
}

/** One lifecycle: what is applied, in which wave, and whether (and in which wave) it is deleted. */
interface Lifecycle {
  readonly kind: "VirtualCopy" | "PhysicalCopy" | "CopyJob";
  readonly name: string;
  readonly wave: "A" | "B" | "C" | "E";
  readonly deleteIn?: "D" | "E";
  readonly body: Record<string, unknown>;
}

let ns: string;
let work: string;
let dataDir: string;
/** Set when the run found nothing wrong: its work directory (about 2 GiB of engine data) then goes. */
let passed = false;
const chaosLog: string[] = [];
const note = (line: string) => {
  chaosLog.push(`${new Date().toISOString().slice(11, 23)} ${line}`);
  console.log(`[chaos] ${line}`);
};

function plan(): Lifecycle[] {
  const out: Lifecycle[] = [];
  const meta = (name: string) => ({ name, namespace: ns });
  const policy = (deleteIn: string | undefined, i: number) =>
    deleteIn === undefined ? (random() < 0.5 ? "Delete" : "Retain") : i % 2 === 0 ? "Delete" : "Retain";
  // 22 virtual copies: 0–4 of the restore bases, the rest of the shared sources.
  for (let i = 0; i < 22; i++) {
    const name = `vc-${String(i).padStart(2, "0")}`;
    const wave = i < 10 ? "A" : i < 16 ? "B" : "E";
    const deleteIn = (i >= 10 && i < 14) || i === 6 || i === 7 ? "D" : i === 14 || i === 15 ? "E" : undefined;
    const source = i < 5 ? `rb-${String(i)}` : sources[i % sources.length];
    out.push({
      kind: "VirtualCopy",
      name,
      wave,
      ...(deleteIn === undefined ? {} : { deleteIn }),
      body: {
        apiVersion: api,
        kind: "VirtualCopy",
        metadata: meta(name),
        spec: { copyClassName: cls, source: { volumeName: source }, deletionPolicy: policy(deleteIn, i) },
      },
    });
  }
  // 11 offline physical copies onto existing targets; 8–10 without saveSnapshot (they end unassociated).
  for (let i = 0; i < 11; i++) {
    const name = `off-${String(i).padStart(2, "0")}`;
    const wave = i < 6 ? "A" : i < 9 ? "B" : "E";
    const deleteIn = i === 6 || i === 7 || i === 5 ? "D" : i === 8 ? "E" : undefined;
    out.push({
      kind: "PhysicalCopy",
      name,
      wave,
      ...(deleteIn === undefined ? {} : { deleteIn }),
      body: {
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: meta(name),
        spec: {
          copyClassName: cls,
          source: { volumeName: sources[i % sources.length] },
          target: { volumeName: `tgt-${String(i).padStart(2, "0")}` },
          saveSnapshot: i < 8,
          deletionPolicy: policy(deleteIn, i),
        },
      },
    });
  }
  // 7 online physical copies: the engine creates their targets.
  for (let i = 0; i < 7; i++) {
    const name = `on-${String(i).padStart(2, "0")}`;
    const wave = i < 4 ? "A" : i < 5 ? "B" : "E";
    const deleteIn = i === 2 || i === 3 ? "D" : i === 4 ? "E" : undefined;
    out.push({
      kind: "PhysicalCopy",
      name,
      wave,
      ...(deleteIn === undefined ? {} : { deleteIn }),
      body: {
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: meta(name),
        spec: {
          copyClassName: cls,
          source: { volumeName: sources[(i + 1) % sources.length] },
          target: { create: {} },
          deletionPolicy: policy(deleteIn, i),
        },
      },
    });
  }
  // 5 resyncs of associated offline copies and 5 restores of the base snapshots.
  for (let i = 0; i < 5; i++) {
    const wave = i < 4 ? "C" : "E";
    out.push({
      kind: "CopyJob",
      name: `resync-${String(i)}`,
      wave,
      body: {
        apiVersion: api,
        kind: "CopyJob",
        metadata: meta(`resync-${String(i)}`),
        spec: { copyRef: { kind: "PhysicalCopy", name: `off-0${String(i)}` }, operation: "Resync" },
      },
    });
    out.push({
      kind: "CopyJob",
      name: `restore-${String(i)}`,
      wave,
      body: {
        apiVersion: api,
        kind: "CopyJob",
        metadata: meta(`restore-${String(i)}`),
        spec: { copyRef: { kind: "VirtualCopy", name: `vc-0${String(i)}` }, operation: "Restore" },
      },
    });
  }
  return out;
}

/** kubectl that survives an apiserver restart: retried until it succeeds or 60 s pass. */
async function kube(args: readonly string[], input?: string): Promise<string> {
  return eventually(async () => kubectlAsyncOk(args, input === undefined ? {} : { input }), 60_000, 500);
}
const apply = (objs: readonly Record<string, unknown>[]) =>
  kube(["apply", "-f", "-"], objs.map((o) => stringify(o)).join("---\n"));

async function listAll(): Promise<Obj[]> {
  const out = await kube(["get", "virtualcopies,physicalcopies,copyjobs", "-n", ns, "-o", "json"]);
  return (JSON.parse(out) as { items: Obj[] }).items;
}

async function etcdCompact(): Promise<number> {
  const { etcdUrl } = cluster();
  const range = (await (
    await fetch(`${etcdUrl}/v3/kv/range`, {
      method: "POST",
      body: JSON.stringify({ key: Buffer.from("/").toString("base64") }),
    })
  ).json()) as { header: { revision: string } };
  const revision = range.header.revision;
  const res = await fetch(`${etcdUrl}/v3/kv/compaction`, {
    method: "POST",
    body: JSON.stringify({ revision, physical: true }),
  });
  if (!res.ok) throw new Error(`etcd compaction failed: ${String(res.status)} ${await res.text()}`);
  return Number(revision);
}

// --- the operator as a process, killed and restarted --------------------------------------------------------

let proc: OperatorProcess | undefined;
let relistsAfterRestart = 0;
let incarnation = 0;
let kills = 0;

async function startProc(): Promise<void> {
  incarnation++;
  proc = await startOperatorProcess({
    kubeconfig: cluster().kubeconfig,
    dataDir,
    logFile: join(work, `operator-${String(incarnation)}.log`),
    pidsFile: join(work, "operator-pids.json"),
    ownerPid: process.pid,
    extraArgs: ["--workers", "4"],
  });
  note(`operator #${String(incarnation)} started (pid ${String(proc.pid)})`);
}

async function killProc(): Promise<void> {
  if (proc === undefined) return;
  process.kill(-proc.pid, "SIGKILL");
  await proc.exited;
  kills++;
  note(`operator #${String(incarnation)} SIGKILLed`);
  proc = undefined;
}

async function killAndRestartSoon(): Promise<void> {
  await sleep(between(100, 2_500));
  await killProc();
  await sleep(between(0, 1_000));
  await startProc();
}

async function apiserverReady(): Promise<void> {
  await eventually(
    async () => {
      const res = await kubectlAsync(["get", "--raw", "/readyz"]);
      if (res.stdout.trim() !== "ok") throw new Error(`apiserver not ready: ${res.stderr}`);
    },
    60_000,
    250,
  );
}

// --- convergence and truth --------------------------------------------------------------------------------

const finalJobStates = new Set(["Completed", "Exception", "Terminated"]);

/** Why a resource has not converged yet (undefined: it has). Reads only the API objects. */
function pending(o: Obj): string | undefined {
  if (o.metadata.deletionTimestamp !== undefined) {
    const ready = conditionOf(o, "Ready");
    return (
      `deleting (finalizers ${JSON.stringify(o.metadata.finalizers ?? [])}; ${String(ready?.reason)}: ` +
      `${String(ready?.message)})`
    );
  }
  if (o.kind === "CopyJob") {
    const s = conditionOf(o, "Succeeded");
    return s?.status === "True" || s?.status === "False"
      ? undefined
      : `Succeeded ${String(s?.status)} ${String(s?.reason)}`;
  }
  const ready = conditionOf(o, "Ready");
  const reconciling = conditionOf(o, "Reconciling");
  if (ready?.observedGeneration !== o.metadata.generation) return "status not observed";
  if (reconciling?.status === "True") return `Reconciling ${reconciling.reason}`;
  return ready?.status === "True" || conditionOf(o, "Stalled")?.status === "True"
    ? undefined
    : `Ready ${String(ready?.status)} ${String(ready?.reason)}`;
}

async function converge(
  lifecycles: readonly Lifecycle[],
  deleted: ReadonlySet<string>,
  timeoutMs: number,
): Promise<void> {
  const started = Date.now();
  let last: string[] = [];
  let settledAt: number | undefined;
  while (Date.now() - started < timeoutMs) {
    const objs = await listAll();
    const byName = new Map(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
    last = [];
    for (const l of lifecycles) {
      const o = byName.get(`${l.kind}/${l.name}`);
      if (deleted.has(l.name)) {
        if (o !== undefined) last.push(`${l.name}: still present after deletion (${String(pending(o))})`);
        continue;
      }
      if (o === undefined) last.push(`${l.name}: missing`);
      else {
        const why = pending(o);
        if (why !== undefined) last.push(`${l.name}: ${why}`);
      }
    }
    if (last.length === 0) {
      // Twice in a row, two seconds apart: a status that is still flipping is not converged.
      if (settledAt !== undefined) {
        note(`converged in ${String(settledAt - started)} ms`);
        return;
      }
      settledAt = Date.now();
      await sleep(2_000);
      continue;
    }
    settledAt = undefined;
    await sleep(1_000);
  }
  throw new Error(`not converged after ${String(timeoutMs)} ms:\n${last.join("\n")}`);
}

const digests = new Map<string, string>();
async function digest(engine: EmbeddedEngine, volume: string, length: number, cache: boolean): Promise<string> {
  const known = cache ? digests.get(volume) : undefined;
  if (known !== undefined) return known;
  const hash = createHash("sha256");
  for (let at = 0; at < length; at += 16 << 20)
    hash.update(await engine.readVolume(volume, at, Math.min(16 << 20, length - at)));
  const d = hash.digest("hex");
  if (cache) digests.set(volume, d);
  return d;
}

/** Byte-identical: a copy against its source (whose digest is computed once; sources never change). */
async function same(engine: EmbeddedEngine, copy: string, source: string, length: number): Promise<boolean> {
  return (await digest(engine, copy, length, false)) === (await digest(engine, source, length, true));
}

/** Everything that is not the truth, as sentences; empty when the run passed. */
async function truth(
  engine: EmbeddedEngine,
  lifecycles: readonly Lifecycle[],
  deleted: ReadonlySet<string>,
): Promise<{ problems: string[]; figures: Record<string, number> }> {
  const problems: string[] = [];
  const figures: Record<string, number> = {
    bytesChecked: 0,
    broken: 0,
    jobsCompleted: 0,
    jobsFailed: 0,
    retainedKept: 0,
  };
  const objs = await listAll();
  const byName = new Map(objs.map((o) => [`${o.kind}/${o.metadata.name}`, o]));
  const copies = (await engine.listCopies()).filter((c) => c.owner.namespace === ns);
  const byUid = new Map<string, CopyObservation[]>();
  for (const c of copies) byUid.set(c.owner.uid, [...(byUid.get(c.owner.uid) ?? []), c]);
  for (const [uid, list] of byUid)
    if (list.length > 1)
      problems.push(
        `duplicated: ${String(list.length)} array objects for uid ${uid}: ${list.map((c) => c.name).join(", ")}`,
      );

  // Deleted resources: gone from the API; on the array nothing unless Retain (or an offline target, unassociated).
  const deletedUids = new Map<string, Lifecycle>();
  for (const o of objs)
    if (o.metadata.finalizers !== undefined && o.metadata.deletionTimestamp !== undefined)
      problems.push(`stranded finalizer on ${o.kind}/${o.metadata.name}`);
  const liveUids = new Set(objs.map((o) => o.metadata.uid));
  for (const c of copies) {
    if (liveUids.has(c.owner.uid)) continue;
    const l = lifecycles.find((x) => x.name === c.owner.name);
    if (l === undefined || !deleted.has(l.name)) {
      problems.push(
        `leaked: array object ${c.name} owned by ${c.owner.name} (${c.owner.uid}), which is not a resource`,
      );
      continue;
    }
    deletedUids.set(c.owner.uid, l);
    const spec = l.body.spec as Obj["spec"];
    if (spec.deletionPolicy === "Retain") {
      figures.retainedKept = (figures.retainedKept ?? 0) + 1;
      continue;
    }
    const offline = l.kind === "PhysicalCopy" && spec.target?.volumeName !== undefined;
    if (offline && c.synchronization === undefined) continue;
    problems.push(
      `leaked: ${l.kind}/${l.name} was deleted with policy Delete but ${c.name} is still on the ` +
        `array${offline ? " and still associated" : ""}`,
    );
  }
  for (const l of lifecycles) {
    const o = byName.get(`${l.kind}/${l.name}`);
    if (deleted.has(l.name)) {
      if (o !== undefined)
        problems.push(
          `stranded: ${l.kind}/${l.name} was deleted but is still there (finalizers ` +
            `${JSON.stringify(o.metadata.finalizers ?? [])})`,
        );
      continue;
    }
    if (o === undefined) {
      problems.push(`${l.kind}/${l.name} is missing`);
      continue;
    }
    if (l.kind === "CopyJob") await jobTruth(engine, o, problems, figures);
    else await copyTruth(engine, o, byUid.get(o.metadata.uid) ?? [], problems, figures);
  }
  return { problems, figures };
}

async function copyTruth(
  engine: EmbeddedEngine,
  o: Obj,
  mine: readonly CopyObservation[],
  problems: string[],
  figures: Record<string, number>,
): Promise<void> {
  const id = `${o.kind}/${o.metadata.name}`;
  const ready = conditionOf(o, "Ready");
  const copy = mine[0];
  if (copy === undefined) {
    // Nothing on the array: only a truthful failure may say so (the initial copy job failed before creating).
    if (ready?.status === "True") problems.push(`${id} is Ready but the array holds no object of its`);
    else if (!["CopyFailed"].includes(ready?.reason ?? ""))
      problems.push(`${id} has no array object and says ${String(ready?.reason)}: ${String(ready?.message)}`);
    return;
  }
  const sync = copy.synchronization?.syncState;
  const healthy = copy.contentComplete && (sync === undefined || sync === "Idle" || sync === "Frozen");
  if (ready?.status === "True" && !healthy)
    problems.push(
      `${id} is Ready but the engine says ${String(sync)}, contentComplete ${String(copy.contentComplete)}`,
    );
  if (ready?.status !== "True") {
    if (healthy)
      problems.push(
        `${id} is not Ready (${String(ready?.reason)}: ${String(ready?.message)}) but the engine holds a complete copy`,
      );
    else if (sync === "Broken" && ready?.reason !== "Broken")
      problems.push(`${id} says ${String(ready?.reason)} but the engine says Broken`);
    else figures.broken = (figures.broken ?? 0) + 1;
  }
  if (healthy) {
    const length =
      copy.kind === "Virtual" ? Math.min(copy.sizeBytes, copy.source.startsWith("rb-") ? baseSize : srcSize) : srcSize;
    if (!(await same(engine, copy.name, copy.source, length)))
      problems.push(`${id}: ${copy.name} is complete but differs from its source ${copy.source}`);
    else figures.bytesChecked = (figures.bytesChecked ?? 0) + 1;
  }
}

async function jobTruth(
  engine: EmbeddedEngine,
  o: Obj,
  problems: string[],
  figures: Record<string, number>,
): Promise<void> {
  const id = `CopyJob/${o.metadata.name}`;
  const state = o.status?.jobState;
  if (state === undefined || !finalJobStates.has(state)) {
    problems.push(`${id} is not final: ${String(state)}`);
    return;
  }
  if (state === "Completed") figures.jobsCompleted = (figures.jobsCompleted ?? 0) + 1;
  else figures.jobsFailed = (figures.jobsFailed ?? 0) + 1;
  const jobId = o.status?.arrayJobId;
  if (jobId === undefined) return; // Ended without asking the array (an impossible request); its reason says why.
  const record = await engine.observeJob(jobId);
  if (record === undefined) return; // The engine no longer keeps it; nothing to compare with.
  if (record.jobState !== state)
    problems.push(`${id} says ${state} but the engine's job ${jobId} is ${record.jobState}`);
  if (state === "Completed" && o.spec.operation === "Restore" && o.spec.copyRef !== undefined) {
    const vc = o.spec.copyRef.name;
    const base = `rb-${vc.slice(-1)}`;
    const snap = (await engine.listCopies()).find((c) => c.owner.name === vc && c.owner.namespace === ns);
    if (
      snap !== undefined &&
      snap.contentComplete &&
      (await digest(engine, base, baseSize, false)) !== (await digest(engine, snap.name, baseSize, false))
    )
      problems.push(`${id}: ${base} differs from the snapshot it was restored from`);
  }
}

// --- the engine-fault phase ------------------------------------------------------------------------------

const faultKinds: readonly Fault[] = ["unavailable", "busy", "timeout-after-apply", "stall"];
const mutating = new Set(["createVirtualCopy", "createPhysicalCopy", "startJob", "halt", "deleteCopy"]);

function faultPlan(): (method: string) => Fault | undefined {
  return (method) => {
    if (mutating.has(method)) return random() < 0.5 ? faultKinds[between(0, faultKinds.length)] : undefined;
    if (method === "observeCopy" || method === "observeJob") {
      const r = random();
      return r < 0.08 ? "unavailable" : r < 0.12 ? "stall" : undefined;
    }
    return undefined;
  };
}

beforeAll(async () => {
  console.log(`[chaos] seed ${String(seed)} (CHAOS_SEED=${String(seed)} repeats this plan)`);
  installCrds();
  ns = freshNamespace("chaos");
  work = mkdtempSync(join(tmpdir(), "arraycopy-chaos-"));
  dataDir = join(work, "data");
  mkdirSync(dataDir);
  await apply([embeddedClass(cls)]);
  const engine = await openEmbeddedEngine({ dataDir: join(dataDir, cls) });
  for (const s of sources) {
    await engine.createVolume(s, srcSize);
    await engine.writeVolume(s, 0, randomBytes(srcSize));
  }
  for (let i = 0; i < 5; i++) {
    await engine.createVolume(`rb-${String(i)}`, baseSize);
    await engine.writeVolume(`rb-${String(i)}`, 0, randomBytes(baseSize));
  }
  for (let i = 0; i < 11; i++) await engine.createVolume(`tgt-${String(i).padStart(2, "0")}`, srcSize);
  await engine.close();
  note(`work directory ${work}`);
});

afterAll(async () => {
  if (proc !== undefined) await proc.stop(5_000);
  if (passed) rmSync(work, { recursive: true, force: true });
  else note(`work directory kept for a look: ${work}`);
});

describe("chaos", () => {
  it(
    "50 lifecycles converge to the truth through operator kills, apiserver and etcd restarts, compactions " +
      "and engine faults",
    async () => {
      const started = Date.now();
      const lifecycles = plan();
      expect(lifecycles).toHaveLength(50);
      const wave = (w: Lifecycle["wave"]) => lifecycles.filter((l) => l.wave === w).map((l) => l.body);
      const deleteWave = async (w: "D" | "E") => {
        for (const l of lifecycles.filter((x) => x.deleteIn === w)) {
          await kube(["delete", l.kind.toLowerCase(), l.name, "-n", ns, "--wait=false"]);
        }
      };
      const deleted = new Set<string>();
      const restartApiserver = async () => {
        const rev = await etcdCompact();
        note(`etcd compacted at revision ${String(rev)}; restarting kube-apiserver (SIGTERM: its watches end cleanly)`);
        await restartComponent(cluster(), "kube-apiserver", {
          ownerPid: process.pid,
          downMs: between(0, 1_500),
          signal: "SIGTERM",
        });
        // A watch that ended cleanly resumes from its resourceVersion, which compaction made too old: 410 Gone, and
        // the informer relists. The new apiserver's counters start at zero, so its LISTs of our kinds are those
        // relists.
        await sleep(3_000);
        const metrics = await kubectlAsyncOk(["get", "--raw", "/metrics"]);
        const lists = [...metrics.matchAll(/^apiserver_request_total\{([^}]*)\} (\d+)/gm)]
          .filter((m) => (m[1] ?? "").includes('group="arraycopy.io"') && (m[1] ?? "").includes('verb="LIST"'))
          .reduce((n, m) => n + Number(m[2]), 0);
        relistsAfterRestart = lists;
        note(`kube-apiserver back; the operator relisted our kinds ${String(lists)} times since`);
      };

      // Phase 1: the operator as a process, under SIGKILLs and control-plane restarts.
      await startProc();
      await apply(wave("A"));
      note(`wave A: ${String(wave("A").length)} lifecycles`);
      await killAndRestartSoon();
      await killAndRestartSoon();
      await sleep(between(200, 1_500));
      await restartApiserver();
      await apply(wave("B"));
      note(`wave B: ${String(wave("B").length)} lifecycles`);
      await killAndRestartSoon();
      await killAndRestartSoon();
      await sleep(between(200, 1_500));
      note("restarting etcd");
      await restartComponent(cluster(), "etcd", { ownerPid: process.pid, downMs: between(0, 1_500) });
      await apiserverReady();
      note("etcd back, kube-apiserver ready");
      await apply(wave("C"));
      note(`wave C: ${String(wave("C").length)} jobs`);
      await killAndRestartSoon();
      note(`etcd compacted at revision ${String(await etcdCompact())} with watches open`);
      await deleteWave("D");
      for (const l of lifecycles.filter((x) => x.deleteIn === "D")) deleted.add(l.name);
      note(`wave D: ${String(deleted.size)} deletions`);
      await killAndRestartSoon();
      await killAndRestartSoon();
      const phase1 = lifecycles.filter((l) => l.wave !== "E");
      await converge(phase1, deleted, 90_000);
      if (proc !== undefined) await proc.stop(15_000);
      proc = undefined;

      // Phase 2: in-process, every engine call liable to fail or stall.
      const faults: FaultyEngine[] = [];
      const plan2 = faultPlan();
      const registry = new EngineRegistry({ dataDir });
      const op = startOperator(["--workers", "4"], {
        registry,
        wrap: (e: Engine) => {
          const f = new FaultyEngine(e, plan2, 1_500);
          faults.push(f);
          return f.engine();
        },
      });
      try {
        await apply(wave("E"));
        await sleep(between(500, 2_000));
        await deleteWave("E");
        for (const l of lifecycles.filter((x) => x.deleteIn === "E")) deleted.add(l.name);
        note(
          `wave E under engine faults: ${String(wave("E").length)} lifecycles, ` +
            `${String(lifecycles.filter((x) => x.deleteIn === "E").length)} deletions`,
        );
        await converge(lifecycles, deleted, 90_000);
      } finally {
        await op.stop();
      }
      const injected = new Map<string, number>();
      for (const f of faults) for (const [k, n] of f.injected) injected.set(k, (injected.get(k) ?? 0) + n);
      note(`engine faults injected: ${JSON.stringify(Object.fromEntries(injected))}`);

      // The truth, from the engine reopened on the data directory.
      const engine = await openEmbeddedEngine({ dataDir: join(dataDir, cls) });
      try {
        const { problems, figures } = await truth(engine, lifecycles, deleted);
        note(
          `seed ${String(seed)}: ${String(kills)} operator SIGKILLs, 1 apiserver restart ` +
            `(${String(relistsAfterRestart)} relists after it), 1 etcd restart, 2 compactions; ` +
            `${JSON.stringify(figures)}; ${String(Math.round((Date.now() - started) / 1000))} s`,
        );
        for (const o of await listAll()) {
          const c = conditionOf(o, o.kind === "CopyJob" ? "Succeeded" : "Ready");
          if (c?.status !== "True")
            note(
              `not Ready/Succeeded (the truth it shows): ${o.kind}/${o.metadata.name} ${String(c?.reason)}: ` +
                String(c?.message),
            );
        }
        for (const p of problems) note(`PROBLEM ${p}`);
        expect(problems).toEqual([]);
        expect([...injected.keys()].length, "engine faults were injected").toBeGreaterThan(0);
        passed = true;
      } finally {
        await engine.close();
      }
    },
  );
});
