// Fixture for the control-plane tests: starts a cluster owned by this process (so its watchdog stops it when this
// process dies), prints the recorded PIDs as one JSON line, then idles until killed.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { startCluster } from "../../hack/control-plane/cluster.ts";

const dir = process.argv[2];
if (dir === undefined) throw new Error("usage: cluster-child.ts DIR [--no-owner]");
const owned = !process.argv.includes("--no-owner");
await startCluster({ dir, ...(owned ? { ownerPid: process.pid } : {}), log: () => undefined });
process.stdout.write(`${readFileSync(join(dir, "pids.json"), "utf8").replace(/\s+/g, "")}\n`);
if (owned) setInterval(() => undefined, 1 << 30);
