// Process records for the local control plane: each started process group is written to a JSON file with the
// process's start time (from /proc), so a stop — even by a later run after a crash — signals exactly the groups
// we started and never a recycled PID.
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";

export interface Recorded {
  readonly name: string;
  readonly pid: number;
  /** Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; identifies the process across PID reuse. */
  readonly startTicks: string;
}

function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return rest[19];
  } catch {
    return undefined;
  }
}

export function readRecorded(file: string): Recorded[] {
  if (!existsSync(file)) return [];
  return JSON.parse(readFileSync(file, "utf8")) as Recorded[];
}

export function recordProcess(file: string, name: string, pid: number): Recorded {
  const rec: Recorded = { name, pid, startTicks: startTicks(pid) ?? "" };
  writeFileSync(file, JSON.stringify([...readRecorded(file), rec], null, 2));
  return rec;
}

/** Field 3 of /proc/<pid>/stat: "Z" for a zombie, which has exited but waits for its parent (or init) to reap it. */
function isZombie(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z");
  } catch {
    return false;
  }
}

/** Still the process we started, and still running: an exited process counts as stopped before it is reaped. */
export function isRunning(rec: Recorded): boolean {
  return rec.startTicks !== "" && startTicks(rec.pid) === rec.startTicks && !isZombie(rec.pid);
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // Already gone.
  }
}

/**
 * Stops the recorded groups in reverse start order (the apiserver before etcd: an apiserver whose etcd is gone
 * retries until killed) and the watchdogs last, each with SIGTERM, then SIGKILL after graceMs; removes the record.
 * Returns how many were running.
 */
export async function killRecorded(file: string, graceMs: number): Promise<number> {
  // Watchdogs last: one stops the cluster if its owner dies, so it must outlive every other process of a stop
  // that the owner may not finish (a demo killed while stopping).
  const isWatchdog = (r: Recorded) => r.name.endsWith("watchdog");
  const alive = readRecorded(file).filter(isRunning).reverse();
  const running = [...alive.filter((r) => !isWatchdog(r)), ...alive.filter(isWatchdog)];
  for (const rec of running) {
    signalGroup(rec.pid, "SIGTERM");
    const deadline = Date.now() + graceMs;
    while (isRunning(rec) && Date.now() < deadline) await sleep(50);
    if (isRunning(rec)) signalGroup(rec.pid, "SIGKILL");
    while (isRunning(rec)) await sleep(20);
  }
  // Exited is enough to go on to the next; before returning, wait (once, for all) until init has reaped them, so
  // that no PID of this cluster is still visible when the stop returns.
  const deadline = Date.now() + 10_000;
  while (running.some((r) => startTicks(r.pid) === r.startTicks) && Date.now() < deadline) await sleep(20);
  rmSync(file, { force: true });
  return running.length;
}
