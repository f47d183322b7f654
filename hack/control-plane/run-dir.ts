// A directory of its own for each test run's cluster: <cache>/arraycopy/<kind>/<pid>. Two runs at once (a developer
// and CI, or two suites) never share a control plane, so neither reaps the other's, as a fixed directory did.
// A run's watchdog stops its cluster when the run dies; what such a run leaves is its directory, which the next
// run of the same kind removes (after a stop by the processes recorded there, should any still run).
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import { stopCluster } from "./cluster.ts";

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export const cacheRoot = () => join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "arraycopy");

/** The env variable's directory when it is set; else this process's directory under <cache>/arraycopy/<kind>. */
export async function runDir(kind: string, fromEnv: string | undefined): Promise<string> {
  if (fromEnv !== undefined && fromEnv !== "") return fromEnv;
  const parent = join(cacheRoot(), kind);
  mkdirSync(parent, { recursive: true });
  for (const entry of readdirSync(parent)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid <= 0 || pid === process.pid || alive(pid)) continue;
    await stopCluster(join(parent, entry));
    rmSync(join(parent, entry), { recursive: true, force: true });
  }
  return join(parent, String(process.pid));
}

/** Stops the run's cluster and, for a directory runDir chose, removes it. */
export async function endRun(dir: string, fromEnv: string | undefined): Promise<void> {
  await stopCluster(dir);
  if (fromEnv === undefined || fromEnv === "") rmSync(dir, { recursive: true, force: true });
}
