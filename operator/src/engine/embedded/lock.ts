// One process per data directory: a lock file created exclusively, holding the owner's pid. A lock left by a
// process that no longer exists (killed, crashed) is taken over; a live owner, or this process opening the same
// directory twice, is refused. Two processes racing to take over the same stale lock is not guarded against.
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

export async function lockDirectory(dir: string): Promise<() => Promise<void>> {
  const path = join(dir, "engine.lock");
  if (heldHere.has(path)) throw busy(dir, process.pid);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await open(path, "wx", 0o600);
      await handle.writeFile(String(process.pid));
      await handle.sync();
      await handle.close();
      heldHere.add(path);
      return async () => {
        heldHere.delete(path);
        await unlink(path).catch(() => undefined);
      };
    } catch (e: unknown) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const owner = Number.parseInt(await readFile(path, "utf8").catch(() => ""), 10);
      if (Number.isInteger(owner) && owner !== process.pid && alive(owner)) throw busy(dir, owner);
      await unlink(path).catch(() => undefined);
    }
  }
  throw busy(dir, undefined);
}

function busy(dir: string, pid: number | undefined): EngineError {
  const who = pid === undefined ? "another process" : `process ${pid}`;
  return new EngineError(`data directory ${dir} is in use by ${who}`, { code: "Busy", kind: "final" });
}
