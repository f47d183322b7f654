import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { lockDirectory } from "./lock.ts";

const dir = () => mkdtempSync(join(tmpdir(), "lock-"));

describe("data directory lock", () => {
  it("records pid and start time, and refuses a second open in the same process", async () => {
    const d = dir();
    const unlock = await lockDirectory(d);
    expect(readFileSync(join(d, "engine.lock"), "utf8")).toMatch(new RegExp(`^${process.pid} \\d+$`));
    await expect(lockDirectory(d)).rejects.toThrow(/in use/);
    await unlock();
  });

  it.each([
    ["a dead process's lock is taken over", "999999999 123"],
    [
      "a lock naming a live pid with another start time (a restarted container's pid 1) is taken over",
      `${String(process.ppid)} 1`,
    ],
    ["a lock with our own pid but another start time is a previous incarnation", `${String(process.pid)} 1`],
  ])("%s", async (_why, content) => {
    const d = dir();
    writeFileSync(join(d, "engine.lock"), content);
    const unlock = await lockDirectory(d);
    await unlock();
  });

  it("refuses a lock held by a live process with the recorded start time", async () => {
    const d = dir();
    const stat = readFileSync(`/proc/${String(process.ppid)}/stat`, "utf8");
    const ticks = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
    writeFileSync(join(d, "engine.lock"), `${String(process.ppid)} ${ticks}`);
    await expect(lockDirectory(d)).rejects.toThrow(`process ${String(process.ppid)}`);
  });
});
