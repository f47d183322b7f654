// The examples end to end, as a user runs them: the operator as its own process (`node operator/src/main.ts`
// with a kubeconfig and a data directory holding the examples' array volumes), `kubectl apply -f examples/`,
// `kubectl wait` on the conditions, health and metrics over HTTP, deletion through the operator, and a clean
// exit on SIGTERM. Which kinds are waited for follows the controllers the operator's metrics show reconciling
// (hack/demo/converge.ts), so this file needs no change as controllers land.
//
// The examples use the namespace `default` and the cluster-scoped CopyClass `embedded` (the default class) and PV
// `pv-postgres-data`: another default class in the same run would make copies ambiguous, so that fails up front.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { getText, runningControllers, skippedKinds, waitConverged, type Kubectl } from "../../hack/demo/converge.ts";
import {
  convergence,
  createExampleVolumes,
  exampleClass,
  exampleObjects,
  examplesDir,
  exampleVolumes,
  type ExampleObject,
} from "../../hack/demo/examples.ts";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { copyFinalizer } from "../../operator/src/controllers/shared/objects.ts";
import { lastAppliedAnnotation } from "../../operator/src/kube/compact.ts";
import { logTail, startOperatorProcess, type OperatorProcess } from "../../hack/demo/operator-process.ts";
import { cluster, installCrds, kubectlAsync, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";

const kubectl: Kubectl = (args) => kubectlAsync(args);
const objects = exampleObjects();
const workDir = mkdtempSync(join(tmpdir(), "arraycopy-e2e-"));
const classDir = join(workDir, "data", exampleClass);
let controllers = new Set<string>();
let op: OperatorProcess | undefined;
/** Set when a test fails: the operator's log is then kept and shown. */
const run = { failed: false };

const ref = (o: ExampleObject) => `${o.kind.toLowerCase()}/${o.name}`;
const nsArgs = (o: ExampleObject) => (o.namespace === undefined ? [] : ["-n", o.namespace]);
const isCopy = (o: ExampleObject) =>
  o.kind === "VirtualCopy" || o.kind === "VirtualCopyGroup" || o.kind === "PhysicalCopy";
const isManaged = (o: ExampleObject) => convergence[o.kind] !== undefined;

function operator(): OperatorProcess {
  if (op === undefined) throw new Error("the operator did not start");
  return op;
}

/**
 * CopyJobs the operator created for the examples' copies (a PhysicalCopy's initial copy): nothing else removes them
 * without kube-controller-manager's garbage collector.
 */
async function ownedJobs(): Promise<ExampleObject[]> {
  const copies = new Set(objects.filter(isCopy).map((o) => `${o.kind}/${o.namespace ?? ""}/${o.name}`));
  const namespaces = [...new Set(objects.filter(isCopy).map((o) => o.namespace ?? "default"))];
  const jobs = await Promise.all(
    namespaces.map(async (ns) => {
      const list = JSON.parse(await kubectlAsyncOk(["get", "copyjobs.arraycopy.io", "-n", ns, "-o", "json"])) as {
        items: { metadata: { name: string; ownerReferences?: { kind: string; name: string }[] } }[];
      };
      return list.items
        .filter((j) => (j.metadata.ownerReferences ?? []).some((r) => copies.has(`${r.kind}/${ns}/${r.name}`)))
        .map((j) => ({ kind: "CopyJob", name: j.metadata.name, namespace: ns }));
    }),
  );
  return jobs.flat();
}

/**
 * Deletes objects and, when `strip`, removes whatever finalizers are left (the operator is gone, or none exists for
 * them).
 */
async function remove(list: readonly ExampleObject[], strip: boolean): Promise<void> {
  await Promise.all(
    list.map(async (o) => {
      await kubectlAsync(["delete", ref(o), ...nsArgs(o), "--ignore-not-found", "--wait=false"]);
      if (strip)
        await kubectlAsync(["patch", ref(o), ...nsArgs(o), "--type=merge", "-p", '{"metadata":{"finalizers":null}}']);
    }),
  );
}

beforeAll(async () => {
  installCrds();
  const classes = JSON.parse(kubectlOk(["get", "copyclasses.arraycopy.io", "-o", "json"])) as {
    items: { metadata: { name: string; annotations?: Record<string, string> } }[];
  };
  const defaults = classes.items.filter(
    (c) => c.metadata.annotations?.["arraycopy.io/is-default-class"] === "true" && c.metadata.name !== exampleClass,
  );
  if (defaults.length > 0) {
    throw new Error(
      `CopyClass ${defaults.map((c) => c.metadata.name).join(", ")} is marked default in this test cluster: ` +
        `examples/copyclass.yaml adds another, and two defaults mean none. Make the other test's class non-default.`,
    );
  }
  // The engine takes the directory's lock: the volumes are made and the engine closed before the operator opens it.
  await createExampleVolumes(classDir);
  op = await startOperatorProcess({
    kubeconfig: cluster().kubeconfig,
    dataDir: join(workDir, "data"),
    logFile: join(workDir, "operator.log"),
    pidsFile: join(workDir, "pids.json"),
    ownerPid: process.pid,
  });
});

beforeEach(({ onTestFailed }) => {
  onTestFailed(() => {});
});

afterAll(async () => {
  await op?.stop();
  // Whatever a failed test left behind: the operator is stopped, so finalizers are stripped.
  await remove([...(await ownedJobs()), ...objects], true);
  if (run.failed)
    console.error(`operator log kept in ${join(workDir, "operator.log")}:\n${logTail(join(workDir, "operator.log"))}`);
  else rmSync(workDir, { recursive: true, force: true });
});

describe("examples/ with the operator as its own process", () => {
  it("applies with kubectl, and the VirtualCopy goes Ready under kubectl wait", async () => {
    await kubectlAsyncOk(["apply", "-f", examplesDir]);
    await kubectlAsyncOk([
      "wait",
      "--for=condition=Ready",
      "virtualcopy/postgres-before-upgrade",
      "-n",
      "default",
      "--timeout=60s",
    ]);
    // The operator's caches drop kubectl's last-applied annotation (kube/compact.ts), and its finalizer is added by
    // JSON patch: the object must keep the annotation, or the next `kubectl apply` would diff against nothing. (No
    // create intent on the embedded engine: its creates cannot land late.)
    const { annotations: meta, finalizers } = (
      JSON.parse(
        await kubectlAsyncOk(["get", "virtualcopy/postgres-before-upgrade", "-n", "default", "-o", "json"]),
      ) as { metadata: { annotations: Record<string, string>; finalizers?: string[] } }
    ).metadata;
    expect(finalizers).toEqual([copyFinalizer]);
    expect(Object.keys(meta).sort()).toEqual([lastAppliedAnnotation]);
    expect((JSON.parse(meta[lastAppliedAnnotation] ?? "{}") as { kind?: string }).kind).toBe("VirtualCopy");
  });

  it("brings every example whose controller runs to Ready or Succeeded", async () => {
    controllers = await runningControllers(operator().url);
    expect(controllers).toContain("virtualcopy");
    const skipped = skippedKinds(controllers);
    if (skipped.length > 0) console.info(`not waiting for ${skipped.join(", ")}: no reconciles for them in /metrics`);
    expect(await waitConverged(kubectl, objects, controllers, 90)).toEqual([]);
  });

  it("serves /healthz, /readyz and reconcile counters in /metrics", async () => {
    const url = operator().url;
    expect(await getText(`${url}/healthz`)).toEqual({ status: 200, body: "ok\n" });
    // Ready once the caches have synced; "leader" since --leader-elect false runs the controllers at once.
    expect(await getText(`${url}/readyz`)).toEqual({ status: 200, body: "ok; leader\n" });
    const metrics = await getText(`${url}/metrics`);
    expect(metrics.status).toBe(200);
    expect(metrics.body).toMatch(/^arraycopy_reconcile_total\{controller="virtualcopy",outcome="[a-z]+"\} [1-9]/m);
    // The gauge counts every VirtualCopy the operator sees, and other test files leave copies in the shared control
    // plane: it must equal what the cluster holds (the example's among them).
    const all = JSON.parse(await kubectlAsyncOk(["get", "virtualcopies.arraycopy.io", "-A", "-o", "json"])) as {
      items: { status?: { syncState?: string } }[];
    };
    const idle = all.items.filter((v) => v.status?.syncState === "Idle").length;
    expect(idle).toBeGreaterThanOrEqual(1);
    expect(metrics.body).toMatch(
      new RegExp(`^arraycopy_copies\\{kind="VirtualCopy",sync_state="Idle"\\} ${idle}$`, "m"),
    );
  });

  it("deletes the examples through the operator, keeping array data (Retain)", async () => {
    // Retain: the virtual copy's retentionHours (24) makes the array refuse to delete it today, as it should.
    const copies = objects.filter(isCopy);
    for (const o of copies)
      await kubectlAsyncOk([
        "patch",
        ref(o),
        ...nsArgs(o),
        "--type=merge",
        "-p",
        '{"spec":{"deletionPolicy":"Retain"}}',
      ]);
    const managed = [...objects.filter(isManaged), ...(await ownedJobs())];
    await remove(managed, false);
    await Promise.all(
      managed.map((o) => kubectlAsyncOk(["wait", "--for=delete", ref(o), ...nsArgs(o), "--timeout=60s"])),
    );
    // The PVC and PV keep kubernetes.io/pvc-protection and pv-protection, which only kube-controller-manager removes.
    const rest = objects.filter((o) => !isManaged(o));
    await remove(rest, true);
    await Promise.all(rest.map((o) => kubectlAsyncOk(["wait", "--for=delete", ref(o), ...nsArgs(o), "--timeout=30s"])));
  });

  it("exits 0 within seconds of SIGTERM", async () => {
    const exit = await operator().stop();
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(exit.ms).toBeLessThan(5_000);
  });

  it("left the copies on the array, byte for byte (Retain), and released the data directory", async () => {
    // Opening the engine proves the operator released the directory's lock.
    const engine = await openEmbeddedEngine({ dataDir: classDir, expiryIntervalMs: 0 });
    try {
      const [source] = exampleVolumes;
      const data = await engine.readVolume(source.name, 0, source.sizeBytes);
      const snapshot = (await engine.listCopies()).find((c) => c.owner.name === "postgres-before-upgrade");
      expect(snapshot).toBeDefined();
      expect((await engine.readVolume(snapshot?.name ?? "", 0, source.sizeBytes)).equals(data)).toBe(true);
      if (controllers.has("physicalcopy"))
        expect((await engine.readVolume("postgres-test", 0, source.sizeBytes)).equals(data)).toBe(true);
    } finally {
      await engine.close();
    }
  });
});
