// What the operator benchmark measures with, shared by its own runs (operator.ts) and the peer's (peer.ts): API
// writes from the apiserver's apiserver_request_total, CPU seconds and RSS of processes from /proc, the compiled
// load client, and a watch that waits until N objects are ready.
import { execFile, execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { CustomObjectsApi, KubeConfig } from "@kubernetes/client-node";

/** Requests the load client (and the benchmark's own pools) keep in flight. */
export const concurrency = 32;

export async function pool(n: number, f: (i: number) => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) await f(next++);
    }),
  );
}

/**
 * apiserver_request_total of a /metrics text in the Prometheus text format, summed by "VERB resource[/subresource]"
 * (over the other labels: group, version, scope, component, code, dry_run).
 */
export function parseRequestCounts(text: string): Map<string, number> {
  const counts = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line.startsWith("apiserver_request_total{")) continue;
    const labels: Record<string, string> = Object.fromEntries(
      [...line.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1] ?? "", m[2] ?? ""]),
    );
    const sub = labels.subresource ?? "";
    const key = `${labels.verb ?? ""} ${labels.resource ?? ""}${sub === "" ? "" : `/${sub}`}`;
    counts.set(key, (counts.get(key) ?? 0) + Number(line.slice(line.lastIndexOf(" ") + 1)));
  }
  return counts;
}

/** The operator's arraycopy_reconcile_total of one controller, over its outcomes, from its /metrics text. */
export function reconcileCount(text: string, controller: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("arraycopy_reconcile_total{") && line.includes(`controller="${controller}"`))
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

/** The operator's reconciles of one controller so far (reconcileCount of its /metrics). */
export async function operatorReconciles(url: string, controller: string): Promise<number> {
  const res = await fetch(`${url}/metrics`);
  if (!res.ok) throw new Error(`operator /metrics: HTTP ${String(res.status)}`);
  return reconcileCount(await res.text(), controller);
}

/** apiserver_request_total from the apiserver's /metrics (parseRequestCounts). */
export async function requestCounts(server: string, token: string, ca: string): Promise<Map<string, number>> {
  const { request } = await import("node:https");
  const text = await new Promise<string>((resolve, reject) => {
    request(`${server}/metrics`, { ca, headers: { authorization: `Bearer ${token}` } }, (res) => {
      let data = "";
      res.on("data", (c: Buffer) => (data += c.toString()));
      res.on("end", () => {
        resolve(data);
      });
    })
      .on("error", reject)
      .end();
  });
  return parseRequestCounts(text);
}

const writeVerbs = new Set(["POST", "PUT", "PATCH", "DELETE", "APPLY"]);

/** The write requests (POST, PUT, PATCH, DELETE, APPLY) counted between two readings, by key; only those > 0. */
export function writesSince(before: Map<string, number>, after: Map<string, number>): Map<string, number> {
  const out = new Map<string, number>();
  for (const [k, v] of after) {
    const d = v - (before.get(k) ?? 0);
    if (d > 0 && writeVerbs.has(k.split(" ")[0] ?? "")) out.set(k, d);
  }
  return out;
}

export const sum = (m: Map<string, number>, filter: (k: string) => boolean = () => true) =>
  [...m].filter(([k]) => filter(k)).reduce((a, [, v]) => a + v, 0);

/** CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat (fields 14 and 15, in clock ticks). */
export function cpuSeconds(pid: number): number {
  const stat = readFileSync(`/proc/${String(pid)}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

/** CPU seconds of each named process (and of this benchmark's own process, as "bench") over `work`. */
export async function cpuDuring<T>(
  pids: ReadonlyMap<string, number>,
  work: () => Promise<T>,
): Promise<{ result: T; cpu: Map<string, number> }> {
  const before = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid)]));
  const self = process.cpuUsage();
  const result = await work();
  const cpu = new Map([...pids].map(([k, pid]) => [k, cpuSeconds(pid) - (before.get(k) ?? 0)]));
  const used = process.cpuUsage(self);
  cpu.set("bench", (used.user + used.system) / 1e6);
  return { result, cpu };
}

export const showCpu = (cpu: ReadonlyMap<string, number>) =>
  [...cpu].map(([k, v]) => `${k} ${v.toFixed(1)}`).join(", ");

function statusKiB(pid: number, field: "VmHWM" | "VmRSS"): number {
  const status = readFileSync(`/proc/${String(pid)}/status`, "utf8");
  return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(status)?.[1] ?? 0);
}

/** The peak RSS of a process so far (VmHWM), in MiB. */
export const hwmMiB = (pid: number) => statusKiB(pid, "VmHWM") / 1024;

/** The RSS of a process now (VmRSS), in MiB. */
export const rssMiB = (pid: number) => statusKiB(pid, "VmRSS") / 1024;

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? 0;

/** Where the compiled load client is and what it needs to reach the API server. */
export interface Load {
  readonly bin: string;
  readonly server: string;
  readonly token: string;
  readonly caFile: string;
}

export interface LoadReport {
  readonly created: number;
  readonly statusWrites: number;
  /** Events posted (with status "apply+event"). */
  readonly events: number;
  readonly seconds: number;
  readonly cpuSeconds: number;
  readonly maxRssKiB: number;
}

export function buildLoadClient(): string {
  const out = execFileSync("bash", [join(import.meta.dirname, "..", "hack", "build-go-tool.sh"), "bench/loadclient"], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  return out.trim().split("\n").at(-1) ?? "";
}

/** What the load client creates: VirtualCopies of a CopyClass, or VolumeSnapshots of a PVC in a snapshot class. */
export interface LoadSpec {
  readonly kind?: "virtualcopy" | "volumesnapshot";
  readonly n: number;
  readonly cls: string;
  /** The VirtualCopies' source volume, or the VolumeSnapshots' PVC; the client's default "bench-src" if absent. */
  readonly volume?: string;
  /** Object names are prefix0 … prefix(n-1); the client's default "c-" if absent. */
  readonly prefix?: string;
  /**
   * One status write on each VirtualCopy after its create (the floor): a merge patch, or server-side apply; with
   * "apply+event", then one Event like the operator's Ready Event (the operator's own writes, without the operator).
   */
  readonly status?: FloorWrites;
  /**
   * With "apply+event": JSON files of the operator's own status ({"status": …}) and Ready Event, written and posted
   * in place of the client's one-condition status and its own Event (see `probeOperatorWrites` in operator.ts).
   */
  readonly bodies?: { readonly status: string; readonly event: string };
}

export type FloorWrites = "merge" | "apply" | "apply+event";

/** Runs the load client in namespace `ns`. */
export function runLoad(load: Load, ns: string, spec: LoadSpec): Promise<LoadReport> {
  const args = ["-server", load.server, "-token", load.token, "-ca", load.caFile, "-namespace", ns]
    .concat(["-n", String(spec.n), "-class", spec.cls, "-concurrency", String(concurrency)])
    .concat(["-kind", spec.kind ?? "virtualcopy"])
    .concat(spec.volume === undefined ? [] : ["-volume", spec.volume])
    .concat(spec.prefix === undefined ? [] : ["-prefix", spec.prefix])
    .concat(spec.status === undefined ? [] : ["-status"])
    .concat(spec.status === "apply" || spec.status === "apply+event" ? ["-status-apply"] : [])
    .concat(spec.status === "apply+event" ? ["-event"] : [])
    .concat(
      spec.status === "apply+event" && spec.bodies !== undefined
        ? ["-status-body", spec.bodies.status, "-event-body", spec.bodies.event]
        : [],
    );
  return new Promise((resolve, reject) => {
    execFile(load.bin, args, { encoding: "utf8", maxBuffer: 1 << 20 }, (err, stdout, stderr) => {
      if (err !== null) reject(new Error(`loadclient failed: ${stderr.trim() || err.message}`));
      else resolve(JSON.parse(stdout) as LoadReport);
    });
  });
}

export async function createNamespace(kc: KubeConfig, ns: string, labels?: Record<string, string>): Promise<void> {
  const { CoreV1Api, V1Namespace, V1ObjectMeta } = await import("@kubernetes/client-node");
  const metadata = Object.assign(new V1ObjectMeta(), { name: ns, ...(labels === undefined ? {} : { labels }) });
  const body = Object.assign(new V1Namespace(), { metadata });
  await kc.makeApiClient(CoreV1Api).createNamespace({ body });
}

/**
 * `f`, tried again a second later while the apiserver answers 429 or 5xx (as it does, "storage is (re)initializing",
 * for a while after CRDs are added), for up to a minute.
 */
export async function retried<T>(f: () => Promise<T>): Promise<T> {
  for (let i = 0; ; i++) {
    try {
      return await f();
    } catch (e) {
      const code = (e as { code?: number }).code ?? 0;
      if (i >= 60 || (code !== 429 && code < 500)) throw e;
      await new Promise((r) => setTimeout(r, 1000));
    }
  }
}

/** A custom resource's collection in one namespace. */
export interface Collection {
  readonly group: string;
  readonly version: string;
  readonly plural: string;
  readonly namespace: string;
}

export interface Watched {
  metadata: { name: string; resourceVersion?: string };
  status?: { conditions?: { type: string; status: string }[]; readyToUse?: boolean };
}

/** Ready as our kinds say it: a Ready condition with status True. */
export const conditionReady = (o: Watched) =>
  o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") === true;

/** Ready as a VolumeSnapshot says it: status.readyToUse. */
export const snapshotReady = (o: Watched) => o.status?.readyToUse === true;

/**
 * Waits until `n` objects of the collection are ready, from a watch: polling with lists would cost the apiserver
 * (and this client) a full serialization of every object several times a second, CPU taken from the controllers on
 * a 2-core machine that the floor never pays. Call before creating the objects; await the returned promise after.
 */
export async function readyWatch(
  api: CustomObjectsApi,
  kc: KubeConfig,
  c: Collection,
  n: number,
  isReady: (o: Watched) => boolean = conditionReady,
): Promise<{ readonly done: Promise<void> }> {
  const { Watch } = await import("@kubernetes/client-node");
  const ready = new Set<string>();
  const list = async () => {
    const l = (await retried(() => api.listNamespacedCustomObject(c))) as {
      metadata?: { resourceVersion?: string };
      items: Watched[];
    };
    ready.clear();
    for (const o of l.items) if (isReady(o)) ready.add(o.metadata.name);
    return l.metadata?.resourceVersion ?? "";
  };
  let rv = await list();
  const done = (async () => {
    // A watch that ends early (a timeout, a dropped connection) resumes after a fresh list.
    while (ready.size < n) {
      let request: { abort(): void } | undefined;
      await new Promise<void>((resolve) => {
        const path = `/apis/${c.group}/${c.version}/namespaces/${c.namespace}/${c.plural}`;
        void new Watch(kc)
          .watch(
            path,
            { resourceVersion: rv, allowWatchBookmarks: true },
            (type: string, obj: Watched) => {
              rv = obj.metadata.resourceVersion ?? rv;
              if (type === "DELETED" || !isReady(obj)) ready.delete(obj.metadata.name);
              else ready.add(obj.metadata.name);
              if (ready.size >= n) resolve();
            },
            () => {
              resolve();
            },
          )
          .then(
            (r) => {
              request = r;
            },
            () => {
              resolve();
            },
          );
      });
      request?.abort();
      if (ready.size < n) rv = await list();
    }
  })();
  return { done };
}
