// Load on the array (not a test): `npm run bench:wsapi [-- --copies 100 --jobs 10 --rest 60]`.
//
// What the operator asks of a WSAPI array, counted by the array itself (the HTTPS test array of test/wsapi-server
// counts every request it receives). On a control plane of its own, with the operator running in this process
// (its real controllers, informers, engine registry and wsapi driver, 4 workers):
//   lifecycle  N VirtualCopies applied at once on a wsapi class, to Ready, then deleted, to gone: requests per
//              copy, by endpoint;
//   at rest    the N copies Ready and J PhysicalCopies whose initial copy stays queued on a second array whose
//              copy engine runs none (so J copy jobs stay unfinished and polled the whole time): requests per
//              minute, by endpoint, on each array;
//   sessions   logins on each array over the whole run, and logouts once the operator stopped.
// Figures go to stdout and to bench/results/wsapi-load.json.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { stringify } from "yaml";
import { startCluster, stopCluster } from "../hack/control-plane/cluster.ts";
import { loadConfig } from "../operator/src/config.ts";
import { openEmbeddedEngine } from "../operator/src/engine/embedded/engine.ts";
import { run } from "../operator/src/main.ts";
import { rootLogger } from "../operator/src/observability/logger.ts";
import { startTestArray, type TestArray } from "../test/wsapi-server/server.ts";
import { spawnSync } from "node:child_process";
import { writeResults } from "./results.ts";

const { values } = parseArgs({
  options: {
    copies: { type: "string", default: "100" },
    jobs: { type: "string", default: "10" },
    rest: { type: "string", default: "60" },
  },
});
const copies = Number(values.copies);
const jobs = Number(values.jobs);
const restSeconds = Number(values.rest);
const api = "arraycopy.io/v1alpha1";
const ns = "bench";

const say = (s: string): void => {
  process.stdout.write(`${s}\n`);
};

/** "GET /api/v1/volumes/vc-3f…" → "GET /volumes/<name>": requests by endpoint, names folded. */
function endpoint(request: string): string {
  const [method = "", path = ""] = request.split(" ");
  const parts = path.replace(/^\/api\/v1\/?/, "").split("/");
  const shape = parts.map((p, i) => (i === 0 ? p : /^[0-9]+$/.test(p) ? "<id>" : "<name>")).join("/");
  return `${method} /${shape}`;
}

function tally(requests: readonly string[]): Map<string, number> {
  const out = new Map<string, number>();
  for (const r of requests) out.set(endpoint(r), (out.get(endpoint(r)) ?? 0) + 1);
  return new Map([...out].sort((a, b) => b[1] - a[1]));
}

async function until(what: string, check: () => boolean, timeoutMs: number): Promise<number> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error(`${what}: not reached within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 250));
  }
  return Date.now() - start;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "bench-wsapi-"));
  const info = await startCluster({ dir: join(root, "cluster"), ownerPid: process.pid });
  const kubectl = (args: readonly string[], input?: string): string => {
    const res = spawnSync(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args], {
      input,
      encoding: "utf8",
      maxBuffer: 256 << 20,
    });
    if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${res.stderr}`);
    return res.stdout;
  };
  const apply = (...objects: readonly unknown[]): void => {
    kubectl(["apply", "-f", "-"], objects.map((o) => stringify(o)).join("---\n"));
  };
  const items = (
    kind: string,
  ): { metadata: { name: string }; status?: { conditions?: { type: string; status: string }[] } }[] =>
    (JSON.parse(kubectl(["get", kind, "-n", ns, "-o", "json"])) as { items: [] }).items;
  const readyCount = (kind: string): number =>
    items(kind).filter((o) => o.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True")).length;

  kubectl(["apply", "--server-side", "-f", join(import.meta.dirname, "..", "crds")]);
  kubectl(["wait", "--for=condition=Established", "crd", "--all", "--timeout=60s"]);
  kubectl(["create", "namespace", ns]);

  // Array A answers as documented and runs copies; array B runs none (its copies stay queued).
  const a = await openArray(join(root, "array-a"), 2);
  const b = await openArray(join(root, "array-b"), 0);
  await a.backing.createVolume("src", 1 << 20);
  await b.backing.createVolume("src", 1 << 20);
  for (let i = 0; i < jobs; i++) await b.backing.createVolume(`pdst-${String(i)}`, 1 << 20);
  for (const [name, arr] of [
    ["array-a", a.array],
    ["array-b", b.array],
  ] as const) {
    apply(
      {
        apiVersion: "v1",
        kind: "Secret",
        metadata: { name, namespace: ns },
        stringData: { username: arr.user, password: arr.password },
      },
      {
        apiVersion: api,
        kind: "CopyClass",
        metadata: { name },
        spec: {
          driver: "wsapi",
          wsapi: { endpoint: arr.url, credentialsSecretRef: { name, namespace: ns }, cpg: "FC_r6", caBundle: arr.ca },
        },
      },
    );
  }

  const config = loadConfig(
    [
      "--kubeconfig",
      info.kubeconfig,
      "--data-dir",
      join(root, "data"),
      "--metrics-port",
      "0",
      "--leader-elect",
      "false",
      "--workers",
      "4",
      "--log-level",
      "warn",
    ],
    {},
  );
  const stop = new AbortController();
  const exited = run(config, rootLogger(config.logLevel), stop.signal, {});
  await until(
    "classes Ready",
    () =>
      kubectl(["get", "copyclass", "-o", "jsonpath={.items[*].status.conditions[?(@.type=='Ready')].status}"])
        .split(" ")
        .filter((s) => s === "True").length === 2,
    60_000,
  );

  // Lifecycle.
  const atStart = a.array.requests.length;
  const vcs = Array.from({ length: copies }, (_, i) => ({
    apiVersion: api,
    kind: "VirtualCopy",
    metadata: { name: `vc-${String(i)}`, namespace: ns },
    spec: { copyClassName: "array-a", source: { volumeName: "src" } },
  }));
  apply(...vcs);
  const readyMs = await until(`${copies} VirtualCopies Ready`, () => readyCount("virtualcopy") === copies, 300_000);
  const createRequests = a.array.requests.slice(atStart);
  kubectl(["delete", "virtualcopy", "--all", "-n", ns, "--wait=false"]);
  await until("VirtualCopies gone", () => items("virtualcopy").length === 0, 300_000);
  const lifecycle = a.array.requests.slice(atStart);
  say(`lifecycle: ${copies} VirtualCopies Ready in ${(readyMs / 1000).toFixed(1)} s, then deleted`);
  say(
    `  ${(createRequests.length / copies).toFixed(2)} requests per copy to Ready, ` +
      `${(lifecycle.length / copies).toFixed(2)} per copy for the whole lifecycle:`,
  );
  for (const [k, n] of tally(lifecycle)) say(`    ${k.padEnd(28)} ${(n / copies).toFixed(2)} per copy`);

  // At rest: the N copies again, Ready, and J physical copies queued (their copy jobs unfinished).
  apply(...vcs);
  await until(`${copies} VirtualCopies Ready again`, () => readyCount("virtualcopy") === copies, 300_000);
  apply(
    ...Array.from({ length: jobs }, (_, i) => ({
      apiVersion: api,
      kind: "PhysicalCopy",
      metadata: { name: `pc-${String(i)}`, namespace: ns },
      spec: {
        copyClassName: "array-b",
        source: { volumeName: "src" },
        target: { volumeName: `pdst-${String(i)}` },
        saveSnapshot: true,
      },
    })),
  );
  await until(`${jobs} copies queued`, () => queued >= jobs, 120_000);
  await new Promise((r) => setTimeout(r, 5_000));
  const [restA, restB] = [a.array.requests.length, b.array.requests.length];
  await new Promise((r) => setTimeout(r, restSeconds * 1000));
  const perMinute = (reqs: readonly string[]): Map<string, number> =>
    new Map([...tally(reqs)].map(([k, n]) => [k, (n * 60) / restSeconds]));
  const quietA = perMinute(a.array.requests.slice(restA));
  const quietB = perMinute(b.array.requests.slice(restB));
  const sum = (m: Map<string, number>): number => [...m.values()].reduce((x, y) => x + y, 0);
  say(
    `at rest over ${restSeconds} s: ${copies} VirtualCopies Ready on array-a, ${jobs} PhysicalCopies queued ` +
      `(jobs unfinished) on array-b`,
  );
  say(`  array-a: ${sum(quietA).toFixed(1)} requests/min`);
  for (const [k, n] of quietA) say(`    ${k.padEnd(28)} ${n.toFixed(1)}/min`);
  say(`  array-b: ${sum(quietB).toFixed(1)} requests/min (${(sum(quietB) / jobs).toFixed(1)} per running job)`);
  for (const [k, n] of quietB) say(`    ${k.padEnd(28)} ${n.toFixed(1)}/min`);

  stop.abort();
  await exited;
  const sessions = (arr: TestArray) => ({
    logins: arr.requests.filter((r) => r === "POST /api/v1/credentials").length,
    logouts: arr.requests.filter((r) => r.startsWith("DELETE /api/v1/credentials/")).length,
  });
  say(`sessions: array-a ${JSON.stringify(sessions(a.array))}, array-b ${JSON.stringify(sessions(b.array))}`);

  const results = {
    copies,
    jobs,
    restSeconds,
    lifecycle: {
      readySeconds: readyMs / 1000,
      requestsPerCopyToReady: createRequests.length / copies,
      requestsPerCopy: lifecycle.length / copies,
      byEndpoint: Object.fromEntries([...tally(lifecycle)].map(([k, n]) => [k, n / copies])),
    },
    atRest: {
      arrayA: { perMinute: sum(quietA), byEndpoint: Object.fromEntries(quietA) },
      arrayB: { perMinute: sum(quietB), perJobPerMinute: sum(quietB) / jobs, byEndpoint: Object.fromEntries(quietB) },
    },
    sessions: { arrayA: sessions(a.array), arrayB: sessions(b.array) },
  };
  say(`figures written to ${writeResults("wsapi-load", results)}`);
  for (const arr of [a, b]) {
    arr.stop();
    await arr.array.close();
    await arr.backing.close();
  }
  await stopCluster(info.dir);
}

let queued = 0;

async function openArray(dir: string, copiesAtOnce: number) {
  const backing = await openEmbeddedEngine({ dataDir: dir, maxConcurrentCopies: copiesAtOnce });
  const array = await startTestArray({ engine: backing });
  let timer: NodeJS.Timeout | undefined;
  if (copiesAtOnce === 0) {
    timer = setInterval(() => {
      void backing.listCopies().then(
        (l) => {
          queued = l.filter((c) => c.synchronization?.syncState === "Initialized").length;
        },
        () => undefined,
      );
    }, 500);
    timer.unref();
  }
  return {
    backing,
    array,
    stop: () => {
      clearInterval(timer);
    },
  };
}

await main();
