// The local control plane leaves nothing behind: a run killed with SIGKILL is torn down by its watchdog, and a
// cluster left running is reaped by the next start in the same directory.
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { afterAll, describe, expect, it } from "vitest";
import { stopCluster } from "../../hack/control-plane/cluster.ts";
import type { Recorded } from "../../hack/control-plane/processes.ts";
import { eventually, repoRoot } from "../support/cluster.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) {
    await stopCluster(d);
    rmSync(d, { recursive: true, force: true });
  }
});

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Starts cluster-child.ts and resolves with the child and the processes it recorded. */
async function startChild(dir: string, ...flags: string[]) {
  const child = spawn(process.execPath, [join(repoRoot, "test/support/cluster-child.ts"), dir, ...flags], {
    stdio: ["ignore", "pipe", "inherit"],
  });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once("line", resolve);
    child.once("exit", (code) => {
      reject(new Error(`cluster child exited with ${code ?? "a signal"}`));
    });
  });
  return { child, recorded: JSON.parse(line) as Recorded[] };
}

describe("local control plane", () => {
  it("is torn down by its watchdog when the run that owns it is SIGKILLed", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-crash-"));
    dirs.push(dir);
    const { child, recorded } = await startChild(dir);
    const servers = recorded.filter((r) => r.name === "etcd" || r.name === "kube-apiserver");
    expect(servers.map((r) => r.name).sort()).toEqual(["etcd", "kube-apiserver"]);
    expect(servers.every((r) => alive(r.pid))).toBe(true);
    child.kill("SIGKILL");
    await eventually(
      () => {
        expect(recorded.filter((r) => alive(r.pid)).map((r) => r.name)).toEqual([]);
      },
      30_000,
      200,
    );
  });

  it("reaps a cluster left running when the next one starts in the same directory", async () => {
    const dir = mkdtempSync(join(tmpdir(), "cp-reap-"));
    dirs.push(dir);
    const first = await startChild(dir, "--no-owner");
    expect(first.recorded.every((r) => alive(r.pid))).toBe(true);
    const second = await startChild(dir, "--no-owner");
    expect(first.recorded.filter((r) => alive(r.pid))).toEqual([]);
    expect(second.recorded.every((r) => alive(r.pid))).toBe(true);
    expect(await stopCluster(dir)).toBe(2);
    expect(second.recorded.filter((r) => alive(r.pid))).toEqual([]);
  });
});
