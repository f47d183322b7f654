// What the examples need and what "working" means for them, shared by `npm run demo` and test/e2e: the objects
// examples/*.yaml hold (read from the files, so a new example is picked up), the array volumes they name, and
// for each kind the condition that says it converged and the controller that must run for it to get there.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";

export const repoRoot = join(import.meta.dirname, "..", "..");
export const examplesDir = join(repoRoot, "examples");
export const crdsDir = join(repoRoot, "crds");

export interface ExampleObject {
  readonly kind: string;
  readonly name: string;
  readonly namespace: string | undefined;
}

/** examples/node/: what needs a node (a PVC made from a copy), applied by `npm run demo -- --node` and test:node. */
export const nodeExamplesDir = join(examplesDir, "node");

/**
 * Every object `kubectl apply -f <dir>` creates; examples/ by default (top level only: examples/wsapi/ needs a real
 * array, examples/node/ a node).
 */
export function exampleObjects(dir = examplesDir): ExampleObject[] {
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();
  return files.flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), "utf8")).flatMap((doc) => {
      const o = doc.toJS() as { kind?: string; metadata?: { name?: string; namespace?: string } } | null;
      if (o?.kind === undefined || o.metadata?.name === undefined) return [];
      return [{ kind: o.kind, name: o.metadata.name, namespace: o.metadata.namespace }];
    }),
  );
}

/**
 * The one list of what is waited for: each kind's convergence condition and the controller (its label in
 * arraycopy_reconcile_total) that must run for it. A kind is waited for only when its controller shows up in the
 * operator's metrics, so nothing here changes when the PhysicalCopy and CopyJob controllers land.
 */
export const convergence: Readonly<Record<string, { readonly condition: string; readonly controller: string }>> = {
  VirtualCopy: { condition: "Ready", controller: "virtualcopy" },
  VirtualCopyGroup: { condition: "Ready", controller: "virtualcopygroup" },
  PhysicalCopy: { condition: "Ready", controller: "physicalcopy" },
  CopyJob: { condition: "Succeeded", controller: "copyjob" },
  // Ready once scheduled: a nightly schedule makes no run while the demo lasts (docs/status.md).
  CopySchedule: { condition: "Ready", controller: "copyschedule" },
};

/** The CopyClass the examples make default; embedded engines keep volumes in <data-dir>/<class name>. */
export const exampleClass = "embedded";

const MiB = 1024 * 1024;

/** The array volumes the examples name: the database's volume with data in it, and the test environment's. */
export const exampleVolumes = [
  { name: "postgres-data", sizeBytes: 64 * MiB, fillSeed: 1 },
  { name: "postgres-test", sizeBytes: 64 * MiB, fillSeed: undefined },
  // The three volumes of examples/db-group.yaml's database.
  { name: "orders-data", sizeBytes: 16 * MiB, fillSeed: 2 },
  { name: "orders-wal", sizeBytes: 16 * MiB, fillSeed: 3 },
  { name: "orders-archive", sizeBytes: 16 * MiB, fillSeed: undefined },
] as const;

/**
 * Creates the example volumes in an embedded engine's directory. The data is the pattern of
 * `npm run volume -- --dir D fill postgres-data 0 64MiB 1`, so a copy can be checked byte for byte. The engine
 * takes the directory's lock: call this before an operator opens the same directory.
 */
export async function createExampleVolumes(classDir: string): Promise<void> {
  const engine = await openEmbeddedEngine({ dataDir: classDir, expiryIntervalMs: 0 });
  try {
    for (const v of exampleVolumes) {
      await engine.createVolume(v.name, v.sizeBytes);
      if (v.fillSeed === undefined) continue;
      const pattern = lcgPattern(v.fillSeed);
      const chunk = 4 * MiB;
      for (let offset = 0; offset < v.sizeBytes; offset += chunk) {
        await engine.writeVolume(v.name, offset, pattern.next(Math.min(chunk, v.sizeBytes - offset)));
      }
    }
  } finally {
    await engine.close();
  }
}

/** The CLI's fill pattern (an LCG writing little-endian 32-bit words), continued across chunks. */
export function lcgPattern(seed: number): { next(length: number): Buffer } {
  let x = seed >>> 0 || 1;
  return {
    next(length) {
      const data = Buffer.alloc(length);
      for (let i = 0; i + 4 <= length; i += 4) {
        x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
        data.writeUInt32LE(x, i);
      }
      return data;
    },
  };
}
