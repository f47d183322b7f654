// Every benchmark's figures as data: bench/results/<name>.json, beside the table it prints, with the date, the
// machine (cores, memory) and the versions of what was measured, so docs/benchmarks.md can show the latest run and a
// later run can be compared with it.
import { execFileSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { join } from "node:path";

const root = join(import.meta.dirname, "..");

function pinned(): Record<string, string> {
  const text = readFileSync(join(root, "hack", "versions.sh"), "utf8");
  return Object.fromEntries([...text.matchAll(/^([A-Z0-9_]+_VERSION)=(\S+)/gm)].map((m) => [m[1] ?? "", m[2] ?? ""]));
}

function commit(): string {
  try {
    return execFileSync("git", ["rev-parse", "--short", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  } catch {
    return "unknown";
  }
}

/** Writes bench/results/<name>.json and returns its path. */
export function writeResults(name: string, figures: Record<string, unknown>): string {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
  const result = {
    name,
    date: new Date().toISOString(),
    machine: {
      cores: cpus().length,
      cpu: cpus()[0]?.model ?? "unknown",
      memoryGiB: Math.round(totalmem() / 2 ** 30),
      note: "shared machine: figures are noisy, compare ratios measured in the same run",
    },
    versions: { arraycopy: pkg.version, commit: commit(), node: process.version, ...pinned() },
    ...figures,
  };
  const dir = join(root, "bench", "results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${name}.json`);
  writeFileSync(file, `${JSON.stringify(result, null, 2)}\n`);
  return file;
}
