// The operator as its own process, as a user runs it: `node operator/src/main.ts` with a kubeconfig and a data
// directory, logging JSON to a file. Used by `npm run demo` and by the e2e test.
//
// Invariants:
// - the operator runs in its own process group, recorded with its start time in `pidsFile`, so a later run
//   stops exactly what a crashed run left (never anything chosen by name);
// - a watchdog stops it when `ownerPid` dies, as the control plane's does, so a killed demo or test orphans nothing;
// - stop() sends SIGTERM and reports how the operator exited; SIGKILL only after the grace period.
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, existsSync, openSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { killRecorded, recordProcess } from "../control-plane/processes.ts";
import { repoRoot } from "./examples.ts";

export interface OperatorOptions {
  readonly kubeconfig: string;
  readonly dataDir: string;
  readonly logFile: string;
  readonly pidsFile: string;
  readonly ownerPid: number;
  readonly extraArgs?: readonly string[];
  readonly startTimeoutMs?: number;
  /**
   * The script node runs: default the TypeScript source; the benchmarks run the compiled dist/main.js, as the image
   * does.
   */
  readonly entry?: string;
  /** Node and V8 flags before the script; default `operatorNodeFlags`, as the image and the chart set them. */
  readonly nodeFlags?: readonly string[];
}

/**
 * The V8 flags the operator runs with, here and in the image (Dockerfile CMD, chart values operator.nodeFlags):
 * --optimize-for-size keeps V8's young generation and heap growth small. Without it, on a big machine, V8 grows
 * its heap far past what the operator retains (docs/benchmarks.md: 326 vs 145 MiB RSS with 10,000 copies cached).
 */
export const operatorNodeFlags: readonly string[] = ["--optimize-for-size"];

export interface Exit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly ms: number;
}

export interface OperatorProcess {
  readonly pid: number;
  readonly logFile: string;
  /** http://127.0.0.1:<port> of /healthz, /readyz and /metrics. */
  readonly url: string;
  readonly exited: Promise<Exit>;
  /** SIGTERM, then SIGKILL after graceMs; resolves with how it exited (ms counts from the SIGTERM). */
  stop(graceMs?: number): Promise<Exit>;
}

const listeningMessage = "Serving /metrics, /healthz and /readyz";

/** The last lines of the operator's log, for error messages. */
export function logTail(file: string, lines = 20): string {
  return existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "(no log)";
}

/** The port the operator logged once its health server listened (it binds a free one with --metrics-port 0). */
function loggedPort(file: string): number | undefined {
  if (!existsSync(file)) return undefined;
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.includes(listeningMessage)) continue;
    try {
      const { port } = JSON.parse(line) as { port?: unknown };
      if (typeof port === "number") return port;
    } catch {
      // A line cut short while being written: read it again on the next poll.
    }
  }
  return undefined;
}

function signal(target: number, sig: NodeJS.Signals): void {
  try {
    process.kill(target, sig);
  } catch {
    // Already gone.
  }
}

function exitOf(child: ChildProcess): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
  return new Promise((resolve) => {
    child.once("exit", (code, signal) => {
      resolve({ code, signal });
    });
  });
}

function startWatchdog(pidsFile: string, ownerPid: number, operatorPid: number): void {
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; kill -TERM -${operatorPid} ` +
    `2>/dev/null; sleep 10; kill -KILL -${operatorPid} 2>/dev/null; true`;
  const child = spawn("/bin/sh", ["-c", script], { detached: true, stdio: "ignore" });
  child.unref();
  if (child.pid !== undefined) recordProcess(pidsFile, "operator-watchdog", child.pid);
}

export async function startOperatorProcess(opts: OperatorOptions): Promise<OperatorProcess> {
  // Whatever a crashed earlier run left under the same record goes first.
  await killRecorded(opts.pidsFile, 10_000);
  const out = openSync(opts.logFile, "w");
  const child = spawn(
    process.execPath,
    [
      ...(opts.nodeFlags ?? operatorNodeFlags),
      opts.entry ?? join(repoRoot, "operator", "src", "main.ts"),
      "--kubeconfig",
      opts.kubeconfig,
      "--data-dir",
      opts.dataDir,
      "--leader-elect",
      "false",
      "--metrics-port",
      "0",
      "--log-level",
      "info",
      ...(opts.extraArgs ?? []),
    ],
    { cwd: repoRoot, detached: true, stdio: ["ignore", out, out] },
  );
  closeSync(out);
  const { pid } = child;
  if (pid === undefined) throw new Error("cannot start the operator");
  recordProcess(opts.pidsFile, "operator", pid);
  startWatchdog(opts.pidsFile, opts.ownerPid, pid);

  let stoppedAt: number | undefined;
  const exited = exitOf(child).then(({ code, signal }) => ({
    code,
    signal,
    ms: stoppedAt === undefined ? 0 : Date.now() - stoppedAt,
  }));
  let exitSeen = false;
  void exited.then(() => (exitSeen = true));
  const gone = (): boolean => exitSeen;

  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  let port = loggedPort(opts.logFile);
  while (port === undefined) {
    if (gone()) throw new Error(`the operator exited while starting:\n${logTail(opts.logFile)}`);
    if (Date.now() > deadline) {
      signal(-pid, "SIGKILL");
      throw new Error(
        `the operator did not serve /healthz within ${opts.startTimeoutMs ?? 60_000} ms:\n${logTail(opts.logFile)}`,
      );
    }
    await sleep(100);
    port = loggedPort(opts.logFile);
  }

  return {
    pid,
    logFile: opts.logFile,
    url: `http://127.0.0.1:${port}`,
    exited,
    async stop(graceMs = 15_000) {
      if (!gone()) {
        stoppedAt = Date.now();
        signal(pid, "SIGTERM");
        const timer = setTimeout(() => {
          if (!gone()) signal(-pid, "SIGKILL");
        }, graceMs);
        await exited;
        clearTimeout(timer);
      }
      // The watchdog has nothing left to guard.
      await killRecorded(opts.pidsFile, 1_000);
      return exited;
    },
  };
}
