// `npm run demo -- --node --once`, as CI runs it: a one-node cluster of its own, the image built from the
// Dockerfile, the chart's Deployment running the operator, examples/ and examples/node/ applied; the view printed
// once, exit 0; and afterwards nothing of the node is left on the host: no process in its cgroups, no cgroup, no
// bridge, no nft table, no loop device of its CSI driver, no mount in this mount namespace.
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { isRunning } from "../../hack/control-plane/processes.ts";
import { interruptDemo, runDemo } from "../support/demo.ts";

const stateDir = mkdtempSync(join(tmpdir(), "arraycopy-node-demo-"));

afterAll(() => {
  rmSync(stateDir, { recursive: true, force: true });
});

const text = (cmd: string, args: readonly string[]) => spawnSync(cmd, args, { encoding: "utf8" }).stdout;

/** What a node cluster makes on the host, by kind: network links, nft tables, cgroups of node clusters. */
function hostState(): { links: string[]; tables: string[]; cgroups: string[] } {
  const links = [...text("ip", ["-o", "link", "show"]).matchAll(/^\d+: ([^:@]+)/gm)].map((m) => m[1] ?? "");
  const tables = text("nft", ["list", "tables"]).split("\n").filter(Boolean);
  const cgroups = readdirSync("/sys/fs/cgroup/memory").filter((d) => d.startsWith("arraycopy-node-"));
  return { links: links.sort(), tables: tables.sort(), cgroups: cgroups.sort() };
}

describe("npm run demo -- --node --once", () => {
  it("runs the operator as the chart's pods, converges the examples, exits 0 and leaves nothing behind", async () => {
    const before = hostState();
    const { code, output } = await runDemo(stateDir, ["--node", "--once", "--timeout", "240"]);
    expect(code, output).toBe(0);
    expect(output).toContain("==> helm install arraycopy charts/arraycopy");
    expect(output).toMatch(/^VirtualCopy +default\/postgres-before-upgrade +Idle +UnSyncAssoc +- +True /m);
    // examples/node/: the copy Ready and the PVC made from it Bound, in Block mode, on the node's CSI class.
    expect(output).toMatch(/^VirtualCopy +default\/orders-before-migration +Idle +UnSyncAssoc +- +True /m);
    expect(output).toMatch(/^ +orders-restored +Bound +pvc-\S+ +16Mi +RWO +arraycopy-csi .* Block$/m);
    expect(output).toContain("==> Stopped the node and the control plane");

    // The host is as it was before: the same links, nft tables and node cgroups; no loop device backed by a file of
    // the demo's, no mount under its directory, no process recorded.
    expect(hostState()).toEqual(before);
    expect(existsSync(join(stateDir, "cluster", "pids.json"))).toBe(false);
    expect(text("losetup", ["-a"])).not.toContain(stateDir);
    expect(readFileSync("/proc/self/mountinfo", "utf8")).not.toContain(stateDir);
  });

  it("stopped with Ctrl-C while its output goes to a pipe that has closed, leaves nothing behind", async () => {
    const before = hostState();
    const run = await interruptDemo(stateDir, ["--node"], /^--- \d{4}-/m);
    expect(run.code, run.output).toBe(0);
    const names = run.recorded.map((r) => r.name);
    expect(names).toEqual(expect.arrayContaining(["kube-apiserver", "kubelet", "containerd", "node-watchdog"]));
    expect(run.recorded.filter(isRunning)).toEqual([]);
    expect(hostState()).toEqual(before);
    expect(existsSync(join(stateDir, "cluster", "pids.json"))).toBe(false);
    expect(text("losetup", ["-a"])).not.toContain(stateDir);
  });
});
