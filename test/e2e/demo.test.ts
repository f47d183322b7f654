// `npm run demo -- --once`, as CI runs it: its own control plane, operator and examples, the view printed once,
// exit 0, and nothing left running; and the live view stopped with Ctrl-C after its pipe has closed (`npm run demo
// | head`), which stops all it started too. It starts a second control plane beside the test run's (a few seconds
// warm).
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isRunning } from "../../hack/control-plane/processes.ts";
import { interruptDemo, runDemo } from "../support/demo.ts";

const stateDir = mkdtempSync(join(tmpdir(), "arraycopy-demo-"));

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

describe("npm run demo", () => {
  it("brings the examples up, prints the view, exits 0 and leaves nothing running", async () => {
    const { code, output } = await runDemo(stateDir, ["--once", "--timeout", "90"]);
    expect(code, output).toBe(0);
    expect(output).toMatch(/^VirtualCopy +default\/postgres-before-upgrade +Idle +UnSyncAssoc +- +True /m);
    expect(output).toContain("==> Stopped the operator (exit 0");
    expect(output).toContain("==> Stopped the control plane");
    // Every process the demo started was recorded; the records go once they are stopped.
    expect(existsSync(join(stateDir, "pids.json"))).toBe(false);
    expect(existsSync(join(stateDir, "cluster", "pids.json"))).toBe(false);
  });

  it("stopped with Ctrl-C while its output goes to a pipe that has closed, stops everything it started", async () => {
    // The live view prints `--- <time>` when its output is not a terminal; the pipe is closed right after.
    const run = await interruptDemo(stateDir, [], /^--- \d{4}-/m);
    expect(run.code, run.output).toBe(0);
    expect(run.recorded.map((r) => r.name)).toEqual(expect.arrayContaining(["etcd", "kube-apiserver", "operator"]));
    expect(run.recorded.filter(isRunning)).toEqual([]);
    expect(existsSync(join(stateDir, "pids.json"))).toBe(false);
    expect(existsSync(join(stateDir, "cluster", "pids.json"))).toBe(false);
  });
});
