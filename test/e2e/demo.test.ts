// `npm run demo -- --once`, as CI runs it: its own control plane, operator and examples, the view printed once,
// exit 0, and nothing left running. It starts a second control plane beside the test run's (a few seconds warm).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { repoRoot } from "../../hack/demo/examples.ts";

const stateDir = mkdtempSync(join(tmpdir(), "arraycopy-demo-"));

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

function runDemo(args: readonly string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "hack", "demo.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ARRAYCOPY_DEMO_DIR: stateDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (d: Buffer) => (output += d.toString()));
    child.stderr.on("data", (d: Buffer) => (output += d.toString()));
    child.once("error", reject);
    child.once("close", (code) => {
      resolve({ code, output });
    });
  });
}

describe("npm run demo -- --once", () => {
  it("brings the examples up, prints the view, exits 0 and leaves nothing running", async () => {
    const { code, output } = await runDemo(["--once", "--timeout", "90"]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^VirtualCopy +default\/postgres-before-upgrade +Idle +UnSyncAssoc +- +True /m);
    expect(output).toContain("==> Stopped the operator (exit 0");
    expect(output).toContain("==> Stopped the control plane");
    // Every process the demo started was recorded; the records go once they are stopped.
    expect(existsSync(join(stateDir, "pids.json"))).toBe(false);
    expect(existsSync(join(stateDir, "cluster", "pids.json"))).toBe(false);
  });
});
