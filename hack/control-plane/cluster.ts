// A real control plane on 127.0.0.1: etcd + kube-apiserver with RBAC, token users and a kubeconfig, started
// from binaries built by build-control-plane.sh (the envtest pattern, without Docker).
//
// Invariants:
// - every process runs in its own process group and is recorded in <dir>/pids.json with its start time, so a
//   later run stops exactly what an earlier (possibly crashed) run started — never anything chosen by name;
// - `owner` mode adds a watchdog that tears the cluster down when the owning process dies (a crashed test run
//   leaves no orphan);
// - start() first reaps whatever a previous run left in the same directory.
import { spawn, spawnSync } from "node:child_process";
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureBinaries } from "./binaries.ts";
import { teardownHost } from "./node-host.ts";
import { writeNodePki, type NodePki } from "./node-pki.ts";
import { killRecorded, recordProcess, type Recorded } from "./processes.ts";

export interface TokenUser {
  readonly name: string;
  readonly token: string;
  readonly groups: readonly string[];
}

export interface ClusterInfo {
  readonly dir: string;
  readonly server: string;
  readonly caFile: string;
  /** kubeconfig of the admin user (system:masters). */
  readonly kubeconfig: string;
  /** kubectl of the apiserver's own version. */
  readonly kubectl: string;
  readonly binDir: string;
  /** Token users: `admin` (system:masters) and unprivileged `alice` and `bob` for RBAC tests. */
  readonly users: readonly TokenUser[];
  readonly etcdUrl: string;
}

export interface StartOptions {
  readonly dir: string;
  /** Tear the cluster down when this PID exits (test runs). Omit for a cluster that outlives its starter. */
  readonly ownerPid?: number;
  readonly log?: (line: string) => void;
  /**
   * A control plane for a node (node.ts): the apiserver binds and advertises the node's address instead of
   * 127.0.0.1, its certificate also names the Service IP, ServiceAccount admission and the Node authorizer are on,
   * and it trusts a client CA for the kubelet's certificate.
   */
  readonly node?: {
    readonly prepare: (dir: string) => { readonly address: string; readonly name: string };
    readonly pki: (pki: NodePki) => void;
  };
}

/** The record of the process groups started in `dir` (launch), which stopCluster(dir) stops. */
export const pidsFile = (dir: string) => join(dir, "pids.json");
const infoFile = (dir: string) => join(dir, "cluster.json");

/**
 * A port free now on 127.0.0.1 for a component to listen on, picked below the kernel's ephemeral range (32768 and
 * up by default): a port the kernel handed out (listen on port 0) can be taken as the source port of any outgoing
 * connection between this probe and the component's bind, which failed a CI run with "address already in use".
 */
export async function freePort(): Promise<number> {
  const probe = (port: number) =>
    new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once("error", () => {
        resolve(false);
      });
      srv.listen(port, "127.0.0.1", () => {
        srv.close(() => {
          resolve(true);
        });
      });
    });
  for (let i = 0; i < 200; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    if (await probe(port)) return port;
  }
  throw new Error("no free port between 20000 and 32000 on 127.0.0.1");
}

function writePki(pki: string, users: readonly TokenUser[], extraSans: readonly string[] = []): { caFile: string } {
  mkdirSync(pki, { recursive: true });
  const crt = join(pki, "apiserver.crt");
  const key = join(pki, "apiserver.key");
  const res = spawnSync(
    "openssl",
    [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "30",
      "-subj",
      "/CN=localhost",
      "-addext",
      ["subjectAltName=IP:127.0.0.1", "DNS:localhost", ...extraSans].join(","),
      "-keyout",
      key,
      "-out",
      crt,
    ],
    { encoding: "utf8" },
  );
  if (res.status !== 0) throw new Error(`cannot create the serving certificate: ${res.stderr}`);
  const sa = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });
  writeFileSync(join(pki, "sa.pub"), sa.publicKey);
  writeFileSync(join(pki, "sa.key"), sa.privateKey, { mode: 0o600 });
  const lines = users.map(
    (u, i) => `${u.token},${u.name},uid-${i}` + (u.groups.length > 0 ? `,"${u.groups.join(",")}"` : ""),
  );
  writeFileSync(join(pki, "tokens.csv"), lines.join("\n") + "\n", { mode: 0o600 });
  return { caFile: crt };
}

// The in-cluster names of the API server (kubernetes.default.svc and its Service IP), for a node's pods.
const inClusterSans = [
  "IP:10.0.0.1",
  "DNS:kubernetes",
  "DNS:kubernetes.default",
  "DNS:kubernetes.default.svc",
  "DNS:kubernetes.default.svc.cluster.local",
];

export function kubeconfigYaml(server: string, caFile: string, user: string, token: string): string {
  const ca = readFileSync(caFile).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: arraycopy-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${ca}`,
    "users:",
    `- name: ${user}`,
    "  user:",
    `    token: ${token}`,
    "contexts:",
    "- name: arraycopy-local",
    "  context:",
    "    cluster: arraycopy-local",
    `    user: ${user}`,
    "current-context: arraycopy-local",
    "",
  ].join("\n");
}

const launchFile = (dir: string) => join(dir, "launch.json");

export function launch(dir: string, name: string, bin: string, args: readonly string[]): Recorded {
  // Remembered so that one component can be restarted as it was first started (restartComponent).
  const launched = existsSync(launchFile(dir))
    ? (JSON.parse(readFileSync(launchFile(dir), "utf8")) as Record<string, unknown>)
    : {};
  writeFileSync(launchFile(dir), JSON.stringify({ ...launched, [name]: { bin, args } }, null, 2));
  const out = openSync(join(dir, `${name}.log`), "a");
  const child = spawn(bin, args, { detached: true, stdio: ["ignore", out, out] });
  closeSync(out);
  child.unref();
  if (child.pid === undefined) throw new Error(`cannot start ${name}`);
  return recordProcess(pidsFile(dir), name, child.pid);
}

/** The process exists (kill -0). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function logTail(dir: string, name: string): string {
  const file = join(dir, `${name}.log`);
  if (!existsSync(file)) return "";
  return readFileSync(file, "utf8").split("\n").slice(-25).join("\n");
}

export async function waitFor(
  what: string,
  dir: string,
  proc: Recorded,
  probe: () => Promise<boolean>,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (!alive(proc.pid)) throw new Error(`${what} exited while starting:\n${logTail(dir, proc.name)}`);
    if (await probe().catch(() => false)) return;
    await sleep(100);
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms:\n${logTail(dir, proc.name)}`);
}

async function httpsOk(url: string, caFile: string, token: string, body?: string): Promise<boolean> {
  const { request } = await import("node:https");
  return new Promise((resolve) => {
    const req = request(
      url,
      { ca: readFileSync(caFile), headers: { authorization: `Bearer ${token}` }, timeout: 2000 },
      (res) => {
        let data = "";
        res.on("data", (c: Buffer) => (data += c.toString()));
        res.on("end", () => {
          resolve(res.statusCode === 200 && (body === undefined || data.trim() === body));
        });
      },
    );
    req.on("error", () => {
      resolve(false);
    });
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end();
  });
}

/** A watchdog shell that stops the recorded process groups once `ownerPid` is gone. */
export function startWatchdog(dir: string, ownerPid: number, groups: readonly number[]): void {
  const pg = groups.map((p) => `-${p}`).join(" ");
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; kill -TERM ${pg} 2>/dev/null; ` +
    `sleep 5; kill -KILL ${pg} 2>/dev/null; true`;
  launch(dir, "watchdog", "/bin/sh", ["-c", script]);
}

export async function startCluster(opts: StartOptions): Promise<ClusterInfo> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const { dir } = opts;
  await stopCluster(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const binDir = ensureBinaries({ log });
  const node = opts.node?.prepare(dir);
  const users: TokenUser[] = [
    { name: "admin", token: randomBytes(24).toString("hex"), groups: ["system:masters"] },
    { name: "alice", token: randomBytes(24).toString("hex"), groups: ["arraycopy:users"] },
    { name: "bob", token: randomBytes(24).toString("hex"), groups: ["arraycopy:users"] },
  ];
  // The identities the bootstrap RBAC policy binds the controller-manager's and the scheduler's roles to.
  if (node !== undefined) {
    // And the two provisioners', which node-csi.ts and node.ts bind to roles of their own.
    const names = ["system:kube-controller-manager", "system:kube-scheduler"];
    for (const name of [...names, "arraycopy:csi-provisioner", "arraycopy:local-path-provisioner"])
      users.push({ name, token: randomBytes(24).toString("hex"), groups: [] });
  }
  const sans = node === undefined ? [] : [`IP:${node.address}`, ...inClusterSans];
  const { caFile } = writePki(join(dir, "pki"), users, sans);
  const nodePki = node === undefined ? undefined : writeNodePki(join(dir, "pki"), node.name);
  if (nodePki !== undefined) opts.node?.pki(nodePki);
  const [etcdPort, peerPort, apiPort] = [await freePort(), await freePort(), await freePort()];
  const etcdUrl = `http://127.0.0.1:${etcdPort}`;
  const started = Date.now();

  const etcd = launch(dir, "etcd", join(binDir, "etcd"), [
    "--name=arraycopy",
    `--data-dir=${join(dir, "etcd")}`,
    `--listen-client-urls=${etcdUrl}`,
    `--advertise-client-urls=${etcdUrl}`,
    `--listen-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-advertise-peer-urls=http://127.0.0.1:${peerPort}`,
    `--initial-cluster=arraycopy=http://127.0.0.1:${peerPort}`,
    "--watch-progress-notify-interval=5s",
    "--unsafe-no-fsync=true",
    "--log-level=warn",
  ]);
  await waitFor("etcd", dir, etcd, async () => (await fetch(`${etcdUrl}/health`)).ok, 30_000);

  const pki = join(dir, "pki");
  const address = node?.address ?? "127.0.0.1";
  const server = `https://${address}:${apiPort}`;
  const nodeArgs =
    nodePki === undefined
      ? ["--authorization-mode=RBAC", "--disable-admission-plugins=ServiceAccount"]
      : [
          "--authorization-mode=Node,RBAC",
          "--enable-admission-plugins=NodeRestriction",
          `--client-ca-file=${nodePki.clientCa}`,
          `--kubelet-client-certificate=${nodePki.apiserverKubeletCert}`,
          `--kubelet-client-key=${nodePki.apiserverKubeletKey}`,
          // The node's name does not resolve: reach the kubelet (logs, exec) at its address.
          "--kubelet-preferred-address-types=InternalIP,Hostname",
        ];
  const api = launch(dir, "kube-apiserver", join(binDir, "kube-apiserver"), [
    `--etcd-servers=${etcdUrl}`,
    `--bind-address=${address}`,
    `--advertise-address=${address}`,
    `--secure-port=${apiPort}`,
    `--cert-dir=${pki}`,
    `--tls-cert-file=${join(pki, "apiserver.crt")}`,
    `--tls-private-key-file=${join(pki, "apiserver.key")}`,
    `--token-auth-file=${join(pki, "tokens.csv")}`,
    ...nodeArgs,
    "--service-cluster-ip-range=10.0.0.0/24",
    `--service-account-issuer=${server}/`,
    `--service-account-key-file=${join(pki, "sa.pub")}`,
    `--service-account-signing-key-file=${join(pki, "sa.key")}`,
    "--allow-privileged=true",
    "--v=0",
  ]);
  const admin = users[0];
  if (admin === undefined) throw new Error("no admin user");
  await waitFor("kube-apiserver", dir, api, () => httpsOk(`${server}/readyz`, caFile, admin.token, "ok"), 120_000);
  await waitFor(
    "kube-apiserver",
    dir,
    api,
    () => httpsOk(`${server}/api/v1/namespaces/default`, caFile, admin.token),
    60_000,
  );
  if (opts.ownerPid !== undefined) startWatchdog(dir, opts.ownerPid, [etcd.pid, api.pid]);

  const kubeconfig = join(dir, "kubeconfig");
  writeFileSync(kubeconfig, kubeconfigYaml(server, caFile, admin.name, admin.token), { mode: 0o600 });
  for (const u of users) {
    writeFileSync(join(dir, `kubeconfig-${u.name}`), kubeconfigYaml(server, caFile, u.name, u.token), { mode: 0o600 });
  }
  const info: ClusterInfo = {
    dir,
    server,
    caFile,
    kubeconfig,
    kubectl: join(binDir, "kubectl"),
    binDir,
    users,
    etcdUrl,
  };
  writeFileSync(infoFile(dir), JSON.stringify(info, null, 2), { mode: 0o600 });
  log(`[control-plane] kube-apiserver ready at ${server} in ${Date.now() - started} ms`);
  return info;
}

export function readCluster(dir: string): ClusterInfo | undefined {
  if (!existsSync(infoFile(dir))) return undefined;
  return JSON.parse(readFileSync(infoFile(dir), "utf8")) as ClusterInfo;
}

/** Stops every process group recorded in `dir`: SIGTERM, then SIGKILL after a grace period. */
export async function stopCluster(dir: string, graceMs = 10_000): Promise<number> {
  const n = await killRecorded(pidsFile(dir), graceMs);
  // A node's containers, shims, cgroups, bridge and nft table (node-host.ts), when this directory had a node.
  await teardownHost(dir, (l) => process.stderr.write(`${l}\n`));
  return n;
}

/**
 * Restarts one component of a running cluster (chaos tests): signals its recorded process group (SIGKILL, a crash,
 * by default; SIGTERM for a graceful shutdown, which ends open watches cleanly), waits until it is gone, then starts
 * it again with the same binary and arguments (same data directory and ports) and waits until it serves. The new
 * process is recorded like the first, with its own watchdog when `ownerPid` is given.
 */
export async function restartComponent(
  info: ClusterInfo,
  name: "etcd" | "kube-apiserver",
  opts: { ownerPid?: number; downMs?: number; signal?: "SIGKILL" | "SIGTERM" } = {},
): Promise<void> {
  const { dir } = info;
  const launched = JSON.parse(readFileSync(launchFile(dir), "utf8")) as Record<
    string,
    { bin: string; args: string[] } | undefined
  >;
  const how = launched[name];
  if (how === undefined) throw new Error(`${name} was not started in ${dir}`);
  const records = JSON.parse(readFileSync(pidsFile(dir), "utf8")) as Recorded[];
  for (const rec of records.filter((r) => r.name === name)) {
    try {
      process.kill(-rec.pid, opts.signal ?? "SIGKILL");
    } catch {
      // Already gone.
    }
    const deadline = Date.now() + 30_000;
    while (alive(rec.pid) && Date.now() < deadline) await sleep(20);
    if (alive(rec.pid)) process.kill(-rec.pid, "SIGKILL");
    while (alive(rec.pid)) await sleep(20);
  }
  writeFileSync(
    pidsFile(dir),
    JSON.stringify(
      records.filter((r) => r.name !== name),
      null,
      2,
    ),
  );
  if (opts.downMs !== undefined) await sleep(opts.downMs);
  const proc = launch(dir, name, how.bin, how.args);
  const admin = info.users.find((u) => u.name === "admin");
  if (admin === undefined) throw new Error("no admin user");
  if (name === "etcd") await waitFor("etcd", dir, proc, async () => (await fetch(`${info.etcdUrl}/health`)).ok, 30_000);
  else
    await waitFor(
      "kube-apiserver",
      dir,
      proc,
      () => httpsOk(`${info.server}/readyz`, info.caFile, admin.token, "ok"),
      120_000,
    );
  if (opts.ownerPid !== undefined) startWatchdog(dir, opts.ownerPid, [proc.pid]);
}
