// One process per data directory: a lock file created exclusively, holding the owner's pid and that process's
// start time (from /proc). A lock left by a process that no longer exists (killed, crashed) is taken over; so is
// one whose pid now names another process — in a container the operator is always pid 1, so after an OOM kill
// the restarted container would otherwise find "pid 1 alive" (itself) and lock itself out. A live owner, or this
// process opening the same directory twice, is refused. Two processes racing to take over the same stale lock is
// not guarded against.
import { readFileSync } from "node:fs";
import { open, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { EngineError } from "../errors.ts";

const heldHere = new Set<string>();

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e: unknown) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Field 22 of /proc/<pid>/stat (start time in clock ticks since boot); "" where /proc cannot tell. */
function startTicks(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    return stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    return "";
  }
}

/** The process a lock names still runs: same pid and, where /proc tells, the same start time. */
function ownerRuns(content: string): { pid: number; runs: boolean } {
  const [pidText = "", ticks = ""] = content.trim().split(/\s+/);
  const pid = Number.parseInt(pidText, 10);
  if (!Number.isInteger(pid) || !alive(pid)) return { pid, runs: false };
  return { pid, runs: ticks === "" || startTicks(pid) === "" || startTicks(pid) === ticks };
}

export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "engine.lock");
  if (heldHere.has(path)) throw busy(dir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(`${process.pid} ${startTicks(process.pid)}`);
      await handle.sync();
      await handle.close();
      heldHere.add(path);
      return async () => {
        heldHere.delete(path);
        await unlink(path).catch(() => undefined);
      };
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = ownerRuns(await readFile(path, "utf8").catch(() => ""));
      // Our own pid with our own start time and not held here cannot happen; same pid, other start time is a
      // previous incarnation (a restarted container) and is stale.
      if (owner.runs && owner.pid !== process.pid) throw busy(dir, owner.pid);
      await unlink(path).catch(() => undefined);
    }
  }
  throw busy(dir, undefined);
}

function busy(dir: string, pid: number | undefined): EngineError {
  const who = pid === undefined ? "another process" : `process ${pid}`;
  return new EngineError(`data directory ${dir} is in use by ${who}`, { code: "Busy", kind: "final" });
}
