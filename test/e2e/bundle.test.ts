// The operator as the image ships it: `npm run build`'s bundles (hack/build.ts), copied with package.json alone into
// a directory that no node_modules can be found from, run as their own processes. The operator bundle makes a
// VirtualCopy Ready and a PhysicalCopy's full copy (its data-mover thread is the bundle dist/mover-thread.js) byte
// for byte, and starts a PVC's population from the VirtualCopy (its token Secret, PVC′ and pod: client-node models
// built by class name, which a bundle must keep); the populator's bundle, run as that pod would be with its
// arguments and Secret, writes the copy's bytes. What this adds to the in-process integration
// tests and e2e/examples (both from the TypeScript source): the bundles carry every dependency, find their thread,
// and run one entry each (the populator's command, inside main.js, must not start at load).
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildDist } from "../../hack/build.ts";
import { lcgPattern, repoRoot } from "../../hack/demo/examples.ts";
import { logTail, startOperatorProcess, type OperatorProcess } from "../../hack/demo/operator-process.ts";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { applyYaml, embeddedClass, readSecret } from "../support/operator.ts";
import {
  cluster,
  eventually,
  freshNamespace,
  installCrds,
  kubectlAsync,
  kubectlAsyncOk,
  kubectlOk,
} from "../support/cluster.ts";

const MiB = 1024 * 1024;
const workDir = mkdtempSync(join(tmpdir(), "arraycopy-bundle-"));
const appDir = join(workDir, "app");
const dataDir = join(workDir, "data");
const className = `bundle-${randomBytes(4).toString("hex")}`;
let ns = "";
let popNs = "";
const storageClass = `${className}-csi`;
const csiDriver = `${className}.test.arraycopy.io`;
let op: OperatorProcess | undefined;
let failed = false;

/** Every directory from `dir` up to the root: where node would look for node_modules. */
function ancestors(dir: string): string[] {
  const all = [dir];
  while (dirname(all.at(-1) ?? "/") !== all.at(-1)) all.push(dirname(all.at(-1) ?? "/"));
  return all;
}

/** The volume's bytes: the CLI's fill pattern (`npm run volume -- fill`), as the examples' volumes hold. */
const source = (seed: number, length: number): Buffer => lcgPattern(seed).next(length);

beforeAll(async () => {
  installCrds();
  await buildDist(join(appDir, "dist"));
  copyFileSync(join(repoRoot, "package.json"), join(appDir, "package.json"));
  const engine = await openEmbeddedEngine({ dataDir: join(dataDir, className), expiryIntervalMs: 0 });
  try {
    await engine.createVolume("bundle-src", 8 * MiB);
    await engine.writeVolume("bundle-src", 0, source(7, 8 * MiB));
    await engine.createVolume("bundle-dst", 8 * MiB);
  } finally {
    await engine.close();
  }
  ns = freshNamespace("bundle");
  popNs = freshNamespace("bundle-pop");
  applyYaml(
    embeddedClass(className),
    { apiVersion: "storage.k8s.io/v1", kind: "CSIDriver", metadata: { name: csiDriver }, spec: {} },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: storageClass },
      provisioner: csiDriver,
      volumeBindingMode: "Immediate",
    },
  );
  op = await startOperatorProcess({
    kubeconfig: cluster().kubeconfig,
    dataDir,
    logFile: join(workDir, "operator.log"),
    pidsFile: join(workDir, "pids.json"),
    ownerPid: process.pid,
    entry: join(appDir, "dist", "main.js"),
    extraArgs: ["--populator-image", "localhost/arraycopy/operator:bundle", "--populator-namespace", popNs],
  });
});

afterAll(async () => {
  await op?.stop();
  // What a failed test left: the operator is gone, so its finalizers go with the objects.
  for (const n of [ns, popNs].filter((x) => x !== "")) {
    const left = await kubectlAsync(["get", "virtualcopies,physicalcopies,copyjobs,pvc", "-n", n, "-o", "name"]);
    for (const name of left.stdout.split("\n").filter(Boolean))
      await kubectlAsync(["patch", name, "-n", n, "--type=merge", "-p", '{"metadata":{"finalizers":null}}']);
    await kubectlAsync(["delete", "namespace", n, "--wait=false"]);
  }
  await kubectlAsync(["delete", "copyclass", className, "--ignore-not-found"]);
  await kubectlAsync(["delete", "storageclass", storageClass, "--ignore-not-found"]);
  await kubectlAsync(["delete", "csidriver", csiDriver, "--ignore-not-found"]);
  if (failed) console.error(`operator log kept in ${workDir}:\n${logTail(join(workDir, "operator.log"))}`);
  else rmSync(workDir, { recursive: true, force: true });
});

describe("the built bundles, run with no node_modules in reach", () => {
  it("are three scripts in a directory from which no node_modules is found", ({ onTestFailed }) => {
    onTestFailed(() => void (failed = true));
    for (const script of ["main.js", "mover-thread.js", "populator/cli.js"]) {
      expect(existsSync(join(appDir, "dist", script))).toBe(true);
    }
    expect(ancestors(appDir).filter((d) => existsSync(join(d, "node_modules")))).toEqual([]);
  });

  it("main.js --help prints the operator's flags and nothing of the populator's", () => {
    const r = spawnSync(process.execPath, ["dist/main.js", "--help"], { cwd: appDir, encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^usage: node dist\/main\.js \[flags\]/);
    expect(r.stdout).toContain("--data-dir");
    expect(r.stdout + r.stderr).not.toContain("populator/cli.js");
  });

  it("populator/cli.js without its flags exits 2 with its usage, as the pod's command", () => {
    const r = spawnSync(process.execPath, [join(appDir, "dist", "populator", "cli.js")], { encoding: "utf8" });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("--source, --token-file, --ca-file and --target are required");
  });

  it("makes a VirtualCopy Ready, a PhysicalCopy's full copy and a PVC's population, byte for byte", async ({
    onTestFailed,
  }) => {
    onTestFailed(() => void (failed = true));
    const copies = [
      {
        apiVersion: "arraycopy.io/v1alpha1",
        kind: "VirtualCopy",
        metadata: { name: "snap", namespace: ns },
        spec: { copyClassName: className, source: { volumeName: "bundle-src" }, deletionPolicy: "Delete" },
      },
      {
        apiVersion: "arraycopy.io/v1alpha1",
        kind: "PhysicalCopy",
        metadata: { name: "full", namespace: ns },
        spec: {
          copyClassName: className,
          source: { volumeName: "bundle-src" },
          target: { volumeName: "bundle-dst" },
          deletionPolicy: "Retain",
        },
      },
    ];
    applyYaml(...copies);
    await kubectlAsyncOk([
      "wait",
      "--for=condition=Ready",
      "virtualcopy/snap",
      "physicalcopy/full",
      "-n",
      ns,
      "--timeout=60s",
    ]);
    // A PVC from the VirtualCopy: the operator makes PVC′, the pod and its Secret (no node runs them here), and the
    // populator's bundle, run with the pod's arguments, token and pinned certificate, writes the copy's bytes.
    applyYaml({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "restored", namespace: ns },
      spec: {
        storageClassName: storageClass,
        accessModes: ["ReadWriteOnce"],
        volumeMode: "Block",
        resources: { requests: { storage: "8Mi" } },
        dataSourceRef: { apiGroup: "arraycopy.io", kind: "VirtualCopy", name: "snap" },
      },
    });
    const uid = kubectlOk(["get", "pvc", "restored", "-n", ns, "-o", "jsonpath={.metadata.uid}"]);
    // (kubectl wait --for=create answers NotFound at once for a named object not there yet: poll instead.)
    const made = [`pod/populate-${uid}`, `secret/populate-${uid}`, `persistentvolumeclaim/prime-${uid}`];
    await eventually(
      async () => {
        const got = (await kubectlAsync(["get", ...made, "-n", popNs, "-o", "name"])).stdout;
        expect(got.split("\n").filter(Boolean)).toEqual(made);
      },
      60_000,
      250,
    );
    const pod = JSON.parse(kubectlOk(["get", "pod", `populate-${uid}`, "-n", popNs, "-o", "json"])) as {
      spec: { containers: { args: string[] }[] };
    };
    const args = pod.spec.containers[0]?.args ?? [];
    const secret = readSecret(popNs, `populate-${uid}`);
    writeFileSync(join(workDir, "token"), secret["token"] ?? "");
    writeFileSync(join(workDir, "ca.crt"), secret["ca.crt"] ?? "");
    const device = join(workDir, "device");
    writeFileSync(device, Buffer.alloc(8 * MiB));
    const populated = spawnSync(
      process.execPath,
      [
        join(appDir, "dist", "populator", "cli.js"),
        ...["--source", args[args.indexOf("--source") + 1] ?? "", "--target", device],
        ...["--token-file", join(workDir, "token"), "--ca-file", join(workDir, "ca.crt")],
        ...["--termination-log", join(workDir, "termination-log")],
      ],
      { encoding: "utf8" },
    );
    expect(populated.status, populated.stdout + populated.stderr).toBe(0);
    expect(readFileSync(device).equals(source(7, 8 * MiB))).toBe(true);
    // The claim deleted, the operator lets go of it and of what it made for it.
    await kubectlAsyncOk(["delete", "pvc", "restored", "-n", ns, "--wait=false"]);
    await kubectlAsyncOk(
      ["wait", "--for=delete", `pod/populate-${uid}`, `secret/populate-${uid}`].concat(["-n", popNs, "--timeout=60s"]),
    );

    // Deleted while the operator runs: the VirtualCopy's array copy with it, the PhysicalCopy's target kept (Retain).
    await kubectlAsyncOk(["delete", "virtualcopy/snap", "physicalcopy/full", "-n", ns, "--timeout=60s"]);
    await op?.stop();
    op = undefined;
    expect(logTail(join(workDir, "operator.log"), 1000)).not.toContain("populator/cli.js");
    const engine = await openEmbeddedEngine({ dataDir: join(dataDir, className), expiryIntervalMs: 0 });
    try {
      expect((await engine.readVolume("bundle-dst", 0, 8 * MiB)).equals(source(7, 8 * MiB))).toBe(true);
      // The VirtualCopy's snapshot went with it (Delete); the PhysicalCopy's target is kept (Retain).
      expect((await engine.listCopies()).map((c) => c.name)).toEqual(["bundle-dst"]);
    } finally {
      await engine.close();
    }
  });
});
