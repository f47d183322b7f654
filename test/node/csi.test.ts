// Block and Filesystem PVCs of the StorageClass `arraycopy-csi` on the real node: external-provisioner over our
// CSI driver. For each volume mode a PVC binds, a pod writes a pattern (to the raw device, or to a file), a second
// pod reads it back byte for byte, and deleting the PVC removes its PV, its image and its loop device.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ourLoopDevices } from "../../hack/control-plane/loop-devices.ts";
import { csiStateDir } from "../../hack/control-plane/node-csi.ts";

const node = inject("nodeCluster");
const busybox = "localhost/arraycopy/busybox:1"; // the local-path helper image, already on the node
const ns = "default";

function kubectl(args: readonly string[], input?: string): string {
  const res = spawnSync(node.kubectl, ["--kubeconfig", node.kubeconfig, ...args], { encoding: "utf8", input });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")}: ${res.stderr}`);
  return res.stdout;
}

async function until<T>(what: string, probe: () => T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

const images = () => readdirSync(join(csiStateDir(node.dir), "volumes")).filter((f) => f.endsWith(".img"));

function pvc(name: string, mode: "Block" | "Filesystem") {
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: ns },
    spec: {
      storageClassName: node.node.csiStorageClass,
      volumeMode: mode,
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "64Mi" } },
    },
  };
}

function pod(name: string, claim: string, mode: "Block" | "Filesystem", script: string) {
  const volume = mode === "Block" ? { volumeDevices: [{ name: "v", devicePath: "/dev/xvda" }] } : {};
  const mount = mode === "Filesystem" ? { volumeMounts: [{ name: "v", mountPath: "/data" }] } : {};
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, namespace: ns },
    spec: {
      restartPolicy: "Never",
      containers: [
        { name: "c", image: busybox, imagePullPolicy: "Never", command: ["sh", "-c", script], ...volume, ...mount },
      ],
      volumes: [{ name: "v", persistentVolumeClaim: { claimName: claim } }],
    },
  };
}

/** Runs a pod to completion and returns its log; fails if it did not succeed. */
async function runPod(p: ReturnType<typeof pod>): Promise<string> {
  kubectl(["apply", "-f", "-"], JSON.stringify(p));
  const phase = await until(`pod ${p.metadata.name} to finish`, () => {
    const ph = kubectl(["get", "pod", p.metadata.name, "-n", ns, "-o", "jsonpath={.status.phase}"]);
    return ph === "Succeeded" || ph === "Failed" ? ph : undefined;
  });
  const log = kubectl(["logs", p.metadata.name, "-n", ns]);
  expect(phase, log).toBe("Succeeded");
  kubectl(["delete", "pod", p.metadata.name, "-n", ns, "--wait=true"]);
  return log;
}

// A pattern of 1 MiB: each 8-byte group names its offset, so a misplaced block would not match.
const writePattern = (to: string) =>
  `i=0; while [ $i -lt 131072 ]; do printf '%08x' $i; i=$((i+1)); done > /tmp/p && ` +
  `dd if=/tmp/p of=${to} bs=65536 conv=fsync 2>/dev/null && md5sum /tmp/p | cut -d' ' -f1`;
const readPattern = (from: string) => `dd if=${from} bs=65536 count=16 2>/dev/null | md5sum | cut -d' ' -f1`;

describe.each(["Block", "Filesystem"] as const)("a %s PVC of arraycopy-csi", (mode) => {
  it("binds, keeps what one pod wrote for the next, and is released when deleted", async () => {
    const name = `csi-${mode.toLowerCase()}`;
    const before = images().length;
    const t0 = Date.now();
    kubectl(["apply", "-f", "-"], JSON.stringify(pvc(name, mode)));
    const pv = await until("the PVC to bind", () => {
      const out = kubectl(["get", "pvc", name, "-n", ns, "-o", "jsonpath={.status.phase} {.spec.volumeName}"]);
      return out.startsWith("Bound ") ? out.split(" ")[1] : undefined;
    });
    process.stderr.write(`[csi] ${mode} PVC bound in ${Date.now() - t0} ms\n`);
    expect(kubectl(["get", "pv", pv, "-o", "jsonpath={.spec.volumeMode} {.spec.csi.driver}"])).toBe(
      `${mode} csi.arraycopy.io`,
    );
    expect(images().length).toBe(before + 1);

    const target = mode === "Block" ? "/dev/xvda" : "/data/pattern";
    const written = (await runPod(pod(`${name}-writer`, name, mode, writePattern(target)))).trim();
    expect(written).toMatch(/^[0-9a-f]{32}$/);
    const read = (await runPod(pod(`${name}-reader`, name, mode, readPattern(target)))).trim();
    expect(read).toBe(written);
    if (mode === "Filesystem") {
      const df = await runPod(pod(`${name}-df`, name, mode, "grep ' /data ' /proc/mounts | cut -d' ' -f3"));
      expect(df.trim()).toBe("ext4");
    }

    kubectl(["delete", "pvc", name, "-n", ns, "--wait=true"]);
    await until("the PV to go", () => (kubectl(["get", "pv", "-o", "name"]).includes(pv) ? undefined : true));
    expect(images().length).toBe(before);
    expect(ourLoopDevices(csiStateDir(node.dir))).toEqual([]);
    expect(existsSync(join(csiStateDir(node.dir), "volumes"))).toBe(true);
  });
});
