// csi-test's csi-sanity against our CSI driver (hack/csi), on temporary sockets: with Filesystem volumes, with
// Block volumes, and in the benchmark's --no-io mode. The driver runs in a private mount namespace of its own
// (root: loop devices and mounts), so the suite's mounts end with it; afterwards no loop device of its images is
// left attached. Needs no cluster.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { ensureCsiBinaries } from "../../hack/control-plane/binaries.ts";
import { ourLoopDevices } from "../../hack/control-plane/loop-devices.ts";

const bins = ensureCsiBinaries();
const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

async function sanity(accessType: "mount" | "block", noIO: boolean) {
  const dir = mkdtempSync(join(tmpdir(), "arraycopy-csi-sanity-"));
  dirs.push(dir);
  const sock = join(dir, "csi.sock");
  const args = [`--endpoint=${sock}`, `--state-dir=${join(dir, "state")}`, "--node-id=sanity", "--log-calls=false"];
  const driver = spawn(
    "unshare",
    ["--mount", "--propagation", "private", "--", bins.driver, ...args, ...(noIO ? ["--no-io"] : [])],
    { stdio: ["ignore", "ignore", "pipe"] },
  );
  let driverLog = "";
  driver.stderr.on("data", (b: Buffer) => (driverLog += b.toString()));
  try {
    for (let i = 0; i < 50 && !driverLog.includes("serving"); i++) await sleep(100);
    const res = spawnSync(
      bins.sanity,
      [
        `--csi.endpoint=${sock}`,
        `--csi.stagingdir=${join(dir, "staging")}`,
        `--csi.mountdir=${join(dir, "mount")}`,
        `--csi.testvolumesize=${64 << 20}`,
        `--csi.testvolumeaccesstype=${accessType}`,
        "--ginkgo.no-color",
      ],
      { encoding: "utf8", timeout: 240_000 },
    );
    const summary = /(\d+) Passed \| (\d+) Failed/.exec(res.stdout);
    expect(summary, `csi-sanity printed no summary:\n${res.stdout}\n${res.stderr}\n${driverLog}`).not.toBeNull();
    expect(Number(summary?.[2]), res.stdout).toBe(0);
    // Identity, Controller (volumes, snapshots, pagination, idempotency) and Node: 52 specs at csi-test v5.6.0.
    expect(Number(summary?.[1])).toBeGreaterThanOrEqual(50);
    expect(res.status, res.stdout.slice(-4000)).toBe(0);
  } finally {
    driver.kill("SIGTERM");
    await new Promise((r) => driver.once("exit", r));
  }
  expect(ourLoopDevices(join(dir, "state"))).toEqual([]);
}

describe("csi-sanity", () => {
  it("passes with Filesystem volumes (loop devices, ext4, bind mounts)", () => sanity("mount", false));
  it("passes with Block volumes", () => sanity("block", false));
  it("passes in --no-io mode (records only)", () => sanity("mount", true));
});
