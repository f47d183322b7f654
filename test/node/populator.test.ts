// Making PVCs from copies on the real node: the chart's operator (one replica, the embedded engine on its data PVC)
// populates PVCs of the node's CSI StorageClass whose dataSourceRef names a VirtualCopy, through a real populator
// pod, PVC′ and the PV controller's binding.
//
// Asserted: a Block PVC made from a virtual copy taken before the volume was overwritten holds the copy's point in
// time byte for byte (a pod's sha256sum of the device against the bytes the engine held at the copy), and one made
// from a PhysicalCopy holds the full copy's bytes though its source changed since; a Filesystem
// PVC made from a copy of a volume holding an ext4 filesystem mounts that filesystem as it is (a pod reads the file
// it held at the copy, though the volume's filesystem was destroyed since); killing the operator while a pod
// populates still ends Bound and correct; nothing of the populator's is left in the operator's namespace; the
// copy lists its PVCs as Populated; examples/node/restore-to-pvc.yaml works as written.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { eventually, kubectlOk, repoRoot } from "../support/cluster.ts";

const node = inject("nodeCluster");
const image = inject("image");
const opNs = "arraycopy-populate";
const ns = "restore";
const release = "pop";
const fullname = "pop-arraycopy";
const busybox = "localhost/arraycopy/busybox:1";
const MiB = 1024 * 1024;
const work = mkdtempSync(join(tmpdir(), "arraycopy-node-populate-"));
const helmHome = join(work, "helm");

function helm(args: readonly string[]): void {
  const res = spawnSync(inject("helm"), [...args, "--kubeconfig", node.kubeconfig], {
    encoding: "utf8",
    cwd: repoRoot,
    timeout: 300_000,
    env: { ...process.env, HELM_CONFIG_HOME: helmHome, HELM_CACHE_HOME: helmHome, HELM_DATA_HOME: helmHome },
  });
  if (res.status !== 0) throw new Error(`helm ${args.join(" ")}: ${res.stderr}${res.stdout}`);
}

const get = (args: readonly string[]): string => kubectlOk(["get", ...args]).trim();
const apply = (...objects: readonly unknown[]): void => {
  for (const o of objects) kubectlOk(["apply", "-f", "-"], { input: JSON.stringify(o) });
};

function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 131 + seed * 17 + (i >> 10)) & 0xff;
  return b;
}

const sha256 = (b: Buffer): string => createHash("sha256").update(b).digest("hex");

function operatorPods(): string[] {
  return get(["pods", "-n", opNs, "-l", "app.kubernetes.io/name=arraycopy", "-o", "jsonpath={.items[*].metadata.name}"])
    .split(" ")
    .filter((n) => n !== "");
}

async function readyOperator(): Promise<void> {
  await eventually(
    () => {
      const out = get(["deployment", fullname, "-n", opNs, "-o", "jsonpath={.status.readyReplicas}"]);
      if (out !== "1") throw new Error(`operator not ready (${out})`);
    },
    180_000,
    1_000,
  );
}

let dataPath = "";
const classDir = () => join(dataPath, "embedded");

/** Scales the operator away, runs `f` on its engine's directory from this process, and scales it back. */
async function withOperatorAway(f: (engine: Awaited<ReturnType<typeof openEmbeddedEngine>>) => Promise<void>) {
  kubectlOk(["scale", "deployment", fullname, "-n", opNs, "--replicas=0"]);
  await eventually(
    () => {
      if (operatorPods().length > 0) throw new Error("operator still running");
    },
    120_000,
    1_000,
  );
  const engine = await openEmbeddedEngine({ dataDir: classDir(), expiryIntervalMs: 0 });
  try {
    await f(engine);
  } finally {
    await engine.close();
    spawnSync("chown", ["-R", "65532:65532", dataPath]);
    kubectlOk(["scale", "deployment", fullname, "-n", opNs, "--replicas=1"]);
    await readyOperator();
  }
}

function claimFrom(
  name: string,
  copy: string,
  mode: "Block" | "Filesystem",
  size: string,
  kind: "VirtualCopy" | "PhysicalCopy" = "VirtualCopy",
) {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns },
    spec: {
      storageClassName: node.node.csiStorageClass,
      volumeMode: mode,
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: size } },
      dataSourceRef: { apiGroup: "arraycopy.io", kind, name: copy },
    },
  };
}

const vc = (name: string, volume: string) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: "embedded", source: { volumeName: volume } },
});

async function bound(name: string, namespace = ns): Promise<string> {
  return eventually(
    () => {
      const out = get(["pvc", name, "-n", namespace, "-o", "jsonpath={.status.phase} {.spec.volumeName}"]);
      if (!out.startsWith("Bound ")) throw new Error(`PVC ${name}: ${out}`);
      return out.split(" ")[1] ?? "";
    },
    240_000,
    1_000,
  );
}

/** Runs a pod on a claim to completion and returns its log. */
async function runPod(
  name: string,
  claim: string,
  mode: "Block" | "Filesystem",
  script: string,
  namespace = ns,
): Promise<string> {
  const volume =
    mode === "Block"
      ? { volumeDevices: [{ name: "v", devicePath: "/dev/xvda" }] }
      : { volumeMounts: [{ name: "v", mountPath: "/data" }] };
  apply({
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace },
    spec: {
      restartPolicy: "Never",
      containers: [{ name: "c", image: busybox, imagePullPolicy: "Never", command: ["sh", "-c", script], ...volume }],
      volumes: [{ name: "v", persistentVolumeClaim: { claimName: claim } }],
    },
  });
  const phase = await eventually(
    () => {
      const ph = get(["pod", name, "-n", namespace, "-o", "jsonpath={.status.phase}"]);
      if (ph !== "Succeeded" && ph !== "Failed") throw new Error(`pod ${name} is ${ph}`);
      return ph;
    },
    180_000,
    500,
  );
  const log = kubectlOk(["logs", name, "-n", namespace]);
  expect(phase, log).toBe("Succeeded");
  kubectlOk(["delete", "pod", name, "-n", namespace, "--wait=true"]);
  return log.trim();
}

const leftovers = () =>
  get(["pods,pvc,secrets", "-n", opNs, "-l", "arraycopy.io/populator=true", "-o", "name"])
    .split("\n")
    .filter((l) => l !== "");

const expected = new Map<string, string>();

beforeAll(async () => {
  kubectlOk(["create", "namespace", opNs]);
  kubectlOk(["create", "namespace", ns]);
  helm([
    "install",
    release,
    join(repoRoot, "charts", "arraycopy"),
    "-n",
    opNs,
    "--set",
    `image.repository=${image.repository}`,
    "--set",
    `image.tag=${image.tag}`,
    "--set",
    "image.pullPolicy=Never",
    "--set",
    "replicaCount=1",
    // The default class is examples/copyclass.yaml's (test/node/chart.test.ts may have left it: it is not helm's).
    "--set",
    "copyClasses.embedded.create=false",
  ]);
  kubectlOk(["apply", "-f", join(repoRoot, "examples", "copyclass.yaml")]);
  await readyOperator();
  const pv = get(["pvc", `${fullname}-data`, "-n", opNs, "-o", "jsonpath={.spec.volumeName}"]);
  dataPath = get(["pv", pv, "-o", "jsonpath={.spec.hostPath.path}"]);

  // An ext4 filesystem holding one file, made on the host as an image and written into an array volume.
  const tree = join(work, "tree");
  mkdirSync(tree);
  writeFileSync(join(tree, "hello.txt"), "the copy's point in time\n");
  const fsImage = join(work, "fs.img");
  const mkfs = spawnSync("mkfs.ext4", ["-q", "-F", "-d", tree, fsImage, "32M"], { encoding: "utf8" });
  if (mkfs.status !== 0) throw new Error(`mkfs.ext4: ${mkfs.stderr}`);
  await withOperatorAway(async (engine) => {
    await engine.createVolume("db", 16 * MiB);
    await engine.writeVolume("db", 0, pattern(1, 12 * MiB));
    await engine.createVolume("fsvol", 32 * MiB);
    await engine.writeVolume("fsvol", 0, readFileSync(fsImage));
    // examples/node/restore-to-pvc.yaml copies this one.
    await engine.createVolume("orders-data", 16 * MiB);
    await engine.writeVolume("orders-data", 0, pattern(5, 16 * MiB));
    await engine.createVolume("big", 256 * MiB);
    await engine.writeVolume("big", 0, pattern(3, 200 * MiB));
    // A full copy of this one goes to ledger-copy (a PhysicalCopy), and a PVC is made from that.
    await engine.createVolume("ledger", 16 * MiB);
    await engine.writeVolume("ledger", 0, pattern(9, 16 * MiB));
    await engine.createVolume("ledger-copy", 16 * MiB);
  });
  apply(vc("db-snap", "db"), vc("fs-snap", "fsvol"), vc("big-snap", "big"), {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "PhysicalCopy",
    metadata: { name: "ledger-full", namespace: ns },
    spec: { copyClassName: "embedded", source: { volumeName: "ledger" }, target: { volumeName: "ledger-copy" } },
  });
  for (const name of ["db-snap", "fs-snap", "big-snap"])
    kubectlOk(["wait", "--for=condition=Ready", `virtualcopy/${name}`, "-n", ns, "--timeout=120s"]);
  kubectlOk(["wait", "--for=condition=Ready", "physicalcopy/ledger-full", "-n", ns, "--timeout=120s"]);
  // The volumes move on after their copies: the PVCs must get the copies' bytes, not the volumes' present.
  await withOperatorAway(async (engine) => {
    for (const [copy, size] of [
      ["db-snap", 16 * MiB],
      ["big-snap", 256 * MiB],
    ] as const) {
      const arrayName = get(["virtualcopy", copy, "-n", ns, "-o", "jsonpath={.status.arrayName}"]);
      expected.set(copy, sha256(await engine.readVolume(arrayName, 0, size)));
    }
    await engine.writeVolume("db", 0, pattern(7, 2 * MiB));
    await engine.writeVolume("fsvol", 0, Buffer.alloc(8 * MiB, 0xff));
    await engine.writeVolume("big", 0, pattern(8, MiB));
    await engine.writeVolume("ledger", 0, pattern(10, 4 * MiB));
  });
}, 900_000);

afterAll(() => {
  // What this file made goes while its operator still runs (its finalizers), so the next file starts clean.
  const kubectl = (args: readonly string[]) =>
    spawnSync(node.kubectl, ["--kubeconfig", node.kubeconfig, ...args], { encoding: "utf8", timeout: 180_000 });
  kubectl(["delete", "-f", join(repoRoot, "examples", "node", "restore-to-pvc.yaml"), "--wait=true"]);
  kubectl(["delete", "pvc,virtualcopies,physicalcopies", "--all", "-n", ns, "--wait=true"]);
  spawnSync(inject("helm"), ["uninstall", release, "-n", opNs, "--kubeconfig", node.kubeconfig, "--wait"], {
    env: { ...process.env, HELM_CONFIG_HOME: helmHome, HELM_CACHE_HOME: helmHome, HELM_DATA_HOME: helmHome },
  });
  rmSync(work, { recursive: true, force: true });
});

describe("a PVC made from a copy on the node", () => {
  it("Block: holds the copy's point in time byte for byte", async () => {
    apply(claimFrom("db-restored", "db-snap", "Block", "16Mi"));
    const pv = await bound("db-restored");
    expect(get(["pv", pv, "-o", "jsonpath={.spec.volumeMode} {.spec.csi.driver}"])).toBe("Block csi.arraycopy.io");
    const sum = await runPod(
      "db-check",
      "db-restored",
      "Block",
      "dd if=/dev/xvda bs=1M count=16 2>/dev/null | sha256sum",
    );
    expect(sum.split(" ")[0]).toBe(expected.get("db-snap"));
    const reasons = get(["events", "-n", ns, "--field-selector", "involvedObject.name=db-restored", "-o", "json"]);
    expect(reasons).toContain("Populating");
    expect(reasons).toContain("Populated");
    await eventually(() => {
      expect(get(["virtualcopy", "db-snap", "-n", ns, "-o", "jsonpath={.status.volumeClaims[0].phase}"])).toBe(
        "Populated",
      );
      expect(leftovers()).toEqual([]);
    }, 60_000);
  });

  it("from a PhysicalCopy: holds the full copy's bytes, not its source's present", async () => {
    apply(claimFrom("ledger-restored", "ledger-full", "Block", "16Mi", "PhysicalCopy"));
    await bound("ledger-restored");
    const sum = await runPod(
      "ledger-check",
      "ledger-restored",
      "Block",
      "dd if=/dev/xvda bs=1M count=16 2>/dev/null | sha256sum",
    );
    expect(sum.split(" ")[0]).toBe(sha256(pattern(9, 16 * MiB)));
    await eventually(() => {
      expect(get(["physicalcopy", "ledger-full", "-n", ns, "-o", "jsonpath={.status.volumeClaims[0].phase}"])).toBe(
        "Populated",
      );
      expect(leftovers()).toEqual([]);
    }, 60_000);
  });

  it("Filesystem: mounts the copy's own filesystem as it was", async () => {
    apply(claimFrom("fs-restored", "fs-snap", "Filesystem", "32Mi"));
    const pv = await bound("fs-restored");
    expect(get(["pv", pv, "-o", "jsonpath={.spec.volumeMode} {.spec.csi.fsType}"])).toBe("Filesystem ext4");
    expect(await runPod("fs-check", "fs-restored", "Filesystem", "cat /data/hello.txt")).toBe(
      "the copy's point in time",
    );
    await eventually(() => {
      expect(leftovers()).toEqual([]);
    }, 60_000);
  });

  it("examples/node/restore-to-pvc.yaml, applied as written, makes a PVC holding the copy", async () => {
    kubectlOk(["apply", "-f", join(repoRoot, "examples", "node", "restore-to-pvc.yaml")]);
    await bound("orders-restored", "default");
    const sum = await runPod(
      "orders-check",
      "orders-restored",
      "Block",
      "dd if=/dev/xvda bs=1M count=16 2>/dev/null | sha256sum",
      "default",
    );
    expect(sum.split(" ")[0]).toBe(sha256(pattern(5, 16 * MiB)));
  });

  it("survives the operator being killed while it populates", async () => {
    apply(claimFrom("big-restored", "big-snap", "Block", "256Mi"));
    await eventually(
      () => {
        const phase = get([
          "pods",
          "-n",
          opNs,
          "-l",
          "arraycopy.io/populator=true",
          "-o",
          "jsonpath={.items[*].status.phase}",
        ]);
        if (!phase.includes("Running")) throw new Error(`populator pod: ${phase}`);
      },
      120_000,
      200,
    );
    const [victim] = operatorPods();
    kubectlOk(["delete", "pod", victim ?? "", "-n", opNs, "--grace-period=0", "--force"]);
    await bound("big-restored");
    const sum = await runPod(
      "big-check",
      "big-restored",
      "Block",
      "dd if=/dev/xvda bs=1M count=256 2>/dev/null | sha256sum",
    );
    expect(sum.split(" ")[0]).toBe(expected.get("big-snap"));
    await eventually(() => {
      expect(leftovers()).toEqual([]);
    }, 60_000);
  });
});
