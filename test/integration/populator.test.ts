// The populator on the real apiserver, up to where a kubelet would take over (no node runs here: the populator
// pod stays Pending, and test/node proves the rest): a PVC whose dataSourceRef names a VirtualCopy gets PVC′, the
// token Secret and the populator pod in the operator's namespace, the finalizers on the claim and the copy, the
// copy's status.volumeClaims and a Populating event; the data path the pod would read is served, and the
// populator's own command, run here with the pod's arguments, token and pinned certificate, writes the copy's point
// in time byte for byte. An operator restarted at the same address holds a new certificate: the pod is replaced and
// its Secret rewritten, and the earlier pin is refused. Deleting the copy waits (WaitingForClaims); deleting the
// claim cleans everything up and lets the copy go.
// Bad input: each case gets a Warning naming the problem, nothing is created, and the claim is taken up once the
// cause goes away.
import { spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, freshNamespace, installCrds, kubectl, kubectlOk, repoRoot } from "../support/cluster.ts";
import { LimitedEngine } from "../support/limited-engine.ts";
import type { Engine } from "../../operator/src/engine/port.ts";
import { certFingerprint } from "../../operator/src/kube/self-signed.ts";
import {
  applyYaml,
  conditionOf,
  embeddedClass,
  eventsFor,
  getObject,
  refusedClaim,
  startOperator,
  waitForCondition,
  type KubeObj,
  type RunningOperator,
} from "../support/operator.ts";

const suffix = Math.random().toString(36).slice(2, 7);
const cls = `pop-it-${suffix}`;
const limitedCls = `pop-nodata-${suffix}`;
const driver = `populator-${suffix}.test.arraycopy.io`;
const csiClass = `pop-csi-${suffix}`;
const plainClass = `pop-plain-${suffix}`;
const image = "localhost/arraycopy/operator:test";
const MiB = 1024 * 1024;
let op: RunningOperator;
let opArgs: string[];
let wrap: (engine: Engine, className: string) => Engine;
let ns: string;
let popNs: string;
const work = mkdtempSync(join(tmpdir(), "arraycopy-populator-it-"));

type Obj = KubeObj;

const claim = (name: string, source: { kind: string; name: string }, mods: Record<string, unknown> = {}) => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  metadata: { name, namespace: ns },
  spec: {
    storageClassName: csiClass,
    accessModes: ["ReadWriteOnce"],
    volumeMode: "Block",
    resources: { requests: { storage: "8Mi" } },
    dataSourceRef: { apiGroup: "arraycopy.io", ...source },
    ...mods,
  },
});

const vc = (name: string, volume: string, className = cls) => ({
  apiVersion: "arraycopy.io/v1alpha1",
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: className, source: { volumeName: volume } },
});

const objectsOf = (uid: string) => ({
  prime: getObject<Obj>("pvc", popNs, `prime-${uid}`),
  pod: getObject<Obj>("pod", popNs, `populate-${uid}`),
  secret: getObject<Obj>("secret", popNs, `populate-${uid}`),
});

function pattern(seed: number, length: number): Buffer {
  const b = Buffer.alloc(length);
  for (let i = 0; i < length; i++) b[i] = (i * 31 + seed * 7 + (i >> 12)) & 0xff;
  return b;
}

/** Runs the populator's own command as the pod would, with the pod's arguments; resolves its exit code. */
function runPopulator(args: readonly string[]): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(repoRoot, "operator/src/populator/cli.ts"), ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => (out += d.toString()));
    child.on("exit", (code) => {
      resolve({ code: code ?? -1, out });
    });
  });
}

/** The token and the pinned certificate of a claim's Secret, written where the pod would find them. */
function podFiles(uid: string, tag: string): { token: string; ca: string; caPem: string } {
  const data = (key: string) =>
    Buffer.from(
      kubectlOk(["get", "secret", `populate-${uid}`, "-n", popNs, "-o", `jsonpath={.data.${key.replace(".", "\\.")}}`]),
      "base64",
    );
  const token = join(work, `${tag}-token`);
  const ca = join(work, `${tag}-ca.crt`);
  writeFileSync(token, data("token"));
  writeFileSync(ca, data("ca.crt"));
  return { token, ca, caPem: data("ca.crt").toString("utf8") };
}

/** The certificate the data path at `source` presents (trusting it for the handshake only, to read it). */
async function servedCertificate(source: string): Promise<string> {
  const { connect } = await import("node:tls");
  const url = new URL(source);
  return new Promise((resolve, reject) => {
    const s = connect({ host: url.hostname, port: Number(url.port), rejectUnauthorized: false }, () => {
      const der = s.getPeerCertificate().raw;
      s.end();
      resolve(new X509Certificate(der).toString());
    });
    s.on("error", reject);
  });
}

/** A free port on the loopback, so a restarted operator serves the data path at the same address. */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The objects made for a claim that are not gone or being deleted. */
const live = (o: ReturnType<typeof objectsOf>) =>
  [o.prime, o.pod, o.secret].filter((x) => x !== undefined && x.metadata.deletionTimestamp === undefined);

const reasonsOf = (name: string) => eventsFor(ns, name).map((e) => e.reason);

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("pop");
  popNs = freshNamespace("popsys");
  applyYaml(
    embeddedClass(cls),
    embeddedClass(limitedCls),
    { apiVersion: "storage.k8s.io/v1", kind: "CSIDriver", metadata: { name: driver }, spec: { attachRequired: false } },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: csiClass },
      provisioner: driver,
      volumeBindingMode: "Immediate",
    },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: plainClass },
      provisioner: `example.com/not-csi-${suffix}`,
      volumeBindingMode: "Immediate",
    },
  );
  const limited = new LimitedEngine({ volumes: false });
  // The second class's engine says it cannot read volume data: neither strategy can serve it.
  opArgs = ["--populator-image", image, "--populator-namespace", popNs, "--populator-port", String(await freePort())];
  wrap = (engine, className) => (className === limitedCls ? limited.wrap(engine) : engine);
  op = startOperator(opArgs, { wrap });
  const engine = await op.engine(cls);
  await engine.volumes.createVolume("db", 4 * MiB);
  await engine.volumes.writeVolume("db", 0, pattern(1, 3 * MiB));
  await (await op.engine(limitedCls)).volumes.createVolume("db", 4 * MiB);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, limitedCls, "--wait=false"]);
  kubectl(["delete", "storageclass", csiClass, plainClass, "--wait=false"]);
  kubectl(["delete", "csidriver", driver, "--wait=false"]);
  rmSync(work, { recursive: true, force: true });
});

describe("populator", () => {
  it("starts a population, serves the copy's point in time to the pod's command, and cleans up", async () => {
    applyYaml(vc("snap", "db"));
    const copy = await waitForCondition<Obj>("virtualcopy", ns, "snap", "Ready", { timeoutMs: 30_000 });
    const arrayName = String(copy.status?.["arrayName"]);
    const engine = await op.engine(cls);
    const then = await engine.volumes.readVolume(arrayName, 0, 4 * MiB);
    // The base moves on after the copy: the PVC must get the copy's bytes, not the volume's present.
    await engine.volumes.writeVolume("db", 0, pattern(9, MiB));

    applyYaml(claim("restored", { kind: "VirtualCopy", name: "snap" }));
    const pvc = await eventually(() => {
      const c = getObject<Obj>("pvc", ns, "restored");
      expect(c?.metadata.finalizers).toContain("arraycopy.io/populate-target");
      return c as Obj;
    });
    const uid = pvc.metadata.uid;
    const made = await eventually(() => {
      const o = objectsOf(uid);
      expect(o.pod).toBeDefined();
      return o;
    });
    // PVC′: the claim's class and size, always Block, labelled for this claim.
    expect(made.prime?.spec).toMatchObject({
      storageClassName: csiClass,
      volumeMode: "Block",
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "8Mi" } },
    });
    expect(made.prime?.spec).not.toHaveProperty("dataSourceRef");
    for (const o of [made.prime, made.pod, made.secret])
      expect(o?.metadata.labels).toMatchObject({ "arraycopy.io/claim-uid": uid, "arraycopy.io/populator": "true" });
    const pod = made.pod as Obj & {
      spec: {
        restartPolicy: string;
        automountServiceAccountToken: boolean;
        containers: { image: string; args: string[]; volumeDevices: { devicePath: string }[] }[];
        volumes: { persistentVolumeClaim?: { claimName: string }; secret?: { secretName: string } }[];
      };
    };
    expect(pod.spec.restartPolicy).toBe("Never");
    expect(pod.spec.automountServiceAccountToken).toBe(false);
    const container = pod.spec.containers[0];
    expect(container?.image).toBe(image);
    expect(container?.volumeDevices[0]?.devicePath).toBe("/dev/arraycopy-target");
    expect(pod.spec.volumes.map((v) => v.persistentVolumeClaim?.claimName ?? v.secret?.secretName)).toEqual([
      `prime-${uid}`,
      `populate-${uid}`,
    ]);
    // The copy is held while the claim is populated, and lists it.
    await eventually(() => {
      const c = getObject<Obj>("virtualcopy", ns, "snap");
      expect(c?.metadata.finalizers).toContain("arraycopy.io/populate-source");
      expect(c?.status?.["volumeClaims"]).toEqual([{ name: "restored", phase: "Populating" }]);
    });
    await eventually(() => {
      expect(reasonsOf("restored")).toContain("Populating");
    });

    // What the pod would run: its own arguments, the token and certificate from its Secret, a file for the device.
    const args = container?.args ?? [];
    const source = args[args.indexOf("--source") + 1] ?? "";
    expect(source).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(args.slice(args.indexOf("--token-file"), args.indexOf("--token-file") + 4)).toEqual([
      "--token-file",
      "/var/run/arraycopy/token",
      "--ca-file",
      "/var/run/arraycopy/ca.crt",
    ]);
    const files = podFiles(uid, "first");
    // The Secret's certificate is the one the data path presents, and the pod's annotation names it.
    expect(await servedCertificate(source)).toBe(new X509Certificate(files.caPem).toString());
    expect(pod.metadata.annotations?.["arraycopy.io/populate-source"]).toBe(
      `${source} ${certFingerprint(files.caPem)}`,
    );
    const target = join(work, "device");
    writeFileSync(target, Buffer.alloc(8 * MiB));
    const run = await runPopulator([
      ...["--source", source, "--token-file", files.token, "--ca-file", files.ca, "--target", target],
      ...["--termination-log", join(work, "termination-log")],
    ]);
    expect(run.code, run.out).toBe(0);
    const written = readFileSync(target);
    expect(written.subarray(0, 4 * MiB).equals(then)).toBe(true);
    expect(written.subarray(4 * MiB).equals(Buffer.alloc(4 * MiB))).toBe(true);
    // A wrong token gets nothing, and says so (final: exit 2).
    writeFileSync(join(work, "token"), "not-the-token");
    const refused = await runPopulator([
      ...["--source", source, "--token-file", join(work, "token"), "--ca-file", files.ca, "--target", target],
    ]);
    expect(refused.code).toBe(2);
    expect(refused.out).toContain("does not know this population's token");

    // Deleting the copy waits for the claim, and says why; the array copy stays.
    kubectlOk(["delete", "virtualcopy", "snap", "-n", ns, "--wait=false"]);
    await eventually(() => {
      const c = getObject<Obj>("virtualcopy", ns, "snap");
      expect(conditionOf(c, "Ready")).toMatchObject({ reason: "WaitingForClaims" });
      expect(conditionOf(c, "Ready")?.message).toContain("PVC restored");
    });
    expect(await engine.observeCopy(arrayName)).toBeDefined();

    // Deleting the claim removes what was made for it, then the copy goes too. (No controller-manager runs here,
    // so kubernetes.io/pvc-protection keeps the deleted PVCs around: what matters is that ours are let go.)
    kubectlOk(["delete", "pvc", "restored", "-n", ns, "--wait=false"]);
    await eventually(() => {
      expect(getObject<Obj>("pvc", ns, "restored")?.metadata.finalizers ?? []).not.toContain(
        "arraycopy.io/populate-target",
      );
      expect(live(objectsOf(uid))).toEqual([]);
    }, 60_000);
    await eventually(() => {
      expect(getObject("virtualcopy", ns, "snap")).toBeUndefined();
    }, 60_000);
    expect(await engine.observeCopy(arrayName)).toBeUndefined();
  });

  it("replaces the pod of an operator restarted at the same address, whose certificate is new", async () => {
    applyYaml(vc("restart-snap", "db"));
    const copy = await waitForCondition<Obj>("virtualcopy", ns, "restart-snap", "Ready", { timeoutMs: 30_000 });
    const then = await (await op.engine(cls)).volumes.readVolume(String(copy.status?.["arrayName"]), 0, 4 * MiB);
    applyYaml(claim("across-restart", { kind: "VirtualCopy", name: "restart-snap" }));
    const uid = await eventually(() => {
      const c = getObject<Obj>("pvc", ns, "across-restart");
      expect(objectsOf(c?.metadata.uid ?? "").pod).toBeDefined();
      return c?.metadata.uid ?? "";
    });
    const before = objectsOf(uid).pod as Obj;
    const earlier = podFiles(uid, "earlier");
    const [address] = (before.metadata.annotations?.["arraycopy.io/populate-source"] ?? "").split(" ");
    const source = address ?? "";

    // A new process at the same address: the same engines, a certificate of its own.
    await op.stop(true);
    op = startOperator(opArgs, { registry: op.registry, wrap });
    const after = await eventually(() => {
      const p = objectsOf(uid).pod;
      expect(p).toBeDefined();
      expect(p?.metadata.uid).not.toBe(before.metadata.uid);
      expect(p?.metadata.deletionTimestamp).toBeUndefined();
      return p as Obj;
    }, 60_000);
    // The new pod was made after its Secret held the new certificate; the pod pins it, at the same address.
    const current = podFiles(uid, "current");
    expect(current.caPem).not.toBe(earlier.caPem);
    expect(after.metadata.annotations?.["arraycopy.io/populate-source"]).toBe(
      `${source} ${certFingerprint(current.caPem)}`,
    );
    expect(await servedCertificate(source)).toBe(new X509Certificate(current.caPem).toString());
    expect(readFileSync(current.token, "utf8")).toBe(readFileSync(earlier.token, "utf8"));

    // The earlier pod's pin is refused by the new process before it sends anything; the new pin is served.
    const target = join(work, "restart-device");
    writeFileSync(target, Buffer.alloc(8 * MiB, 7));
    const stale = await runPopulator([
      ...["--source", source, "--token-file", earlier.token, "--ca-file", earlier.ca, "--target", target],
      ...["--termination-log", join(work, "restart-termination-log")],
    ]);
    expect(stale.code).toBe(2);
    const pinned = certFingerprint(earlier.caPem);
    expect(readFileSync(join(work, "restart-termination-log"), "utf8")).toContain(
      `is not the server this population was given: it does not hold the pinned certificate (${pinned})`,
    );
    expect(readFileSync(target).equals(Buffer.alloc(8 * MiB, 7))).toBe(true);
    const fresh = await runPopulator([
      ...["--source", source, "--token-file", current.token, "--ca-file", current.ca, "--target", target],
    ]);
    expect(fresh.code, fresh.out).toBe(0);
    expect(
      readFileSync(target)
        .subarray(0, 4 * MiB)
        .equals(then),
    ).toBe(true);

    kubectlOk(["delete", "pvc", "across-restart", "-n", ns, "--wait=false"]);
    await eventually(() => {
      expect(live(objectsOf(uid))).toEqual([]);
    }, 60_000);
  });

  it.each([
    {
      why: "a copy that does not exist",
      name: "no-copy",
      reason: "CopyNotFound",
      message: "VirtualCopy nothing-here does not exist",
      pvc: () => claim("no-copy", { kind: "VirtualCopy", name: "nothing-here" }),
    },
    {
      why: "a PVC smaller than the copy",
      name: "too-small",
      reason: "ClaimTooSmall",
      message: "request at least that (resources.requests.storage)",
      pvc: () =>
        claim("too-small", { kind: "VirtualCopy", name: "held" }, { resources: { requests: { storage: "1Mi" } } }),
    },
    {
      why: "an access mode the populator cannot write through",
      name: "read-only",
      reason: "UnsupportedAccessMode",
      message: "only ReadOnlyMany",
      pvc: () => claim("read-only", { kind: "VirtualCopy", name: "held" }, { accessModes: ["ReadOnlyMany"] }),
    },
    {
      why: "a StorageClass that no CSI driver serves",
      name: "not-csi",
      reason: "UnsupportedVolumeMode",
      message: "is not served by a CSI driver",
      pvc: () => claim("not-csi", { kind: "VirtualCopy", name: "held" }, { storageClassName: plainClass }),
    },
    {
      why: "a class whose engine can do neither strategy",
      name: "no-strategy",
      reason: "NoPopulateStrategy",
      message: "cannot read volume data",
      pvc: () => claim("no-strategy", { kind: "VirtualCopy", name: "held-elsewhere" }),
    },
  ])("refuses $why with a Warning and makes nothing", async ({ name, reason, message, pvc }) => {
    if (getObject("virtualcopy", ns, "held") === undefined) {
      applyYaml(vc("held", "db"), vc("held-elsewhere", "db", limitedCls));
      await waitForCondition("virtualcopy", ns, "held", "Ready", { timeoutMs: 30_000 });
      await waitForCondition("virtualcopy", ns, "held-elsewhere", "Ready", { timeoutMs: 30_000 });
    }
    applyYaml(pvc());
    const o = objectsOf(await refusedClaim(ns, name, reason, message));
    expect([o.prime, o.pod, o.secret]).toEqual([undefined, undefined, undefined]);
    kubectlOk(["delete", "pvc", name, "-n", ns, "--wait=false"]);
  });

  it("takes up a claim once the copy it names appears and is Ready", async () => {
    applyYaml(claim("early", { kind: "VirtualCopy", name: "later" }));
    await eventually(() => {
      expect(reasonsOf("early")).toContain("CopyNotFound");
    });
    applyYaml(vc("later", "db"));
    const uid = getObject<Obj>("pvc", ns, "early")?.metadata.uid ?? "";
    // The refusal is retried with backoff (30 s) and woken at once by the copy's change.
    await eventually(() => {
      expect(objectsOf(uid).pod).toBeDefined();
    }, 60_000);
    kubectlOk(["delete", "pvc", "early", "-n", ns, "--wait=false"]);
    await eventually(() => {
      expect(live(objectsOf(uid))).toEqual([]);
    }, 60_000);
  });
});
