// PVC sources on a wsapi CopyClass whose PVs are the HPE CSI driver's (3PAR / Primera / Alletra CSP): a claim bound
// to a PV made the way external-provisioner and the driver make one — named pvc-<claim uid>, volumeHandle the same
// 40 characters, volumeAttributes from the StorageClass and the CSP — is resolved to the array volume the CSP
// made (the handle's first 31 characters, or what an HPEVolumeInfo records), confirmed on the WSAPI test array;
// what the array lacks, or a handle this CSP does not make, is refused with what was expected (docs/sources.md).
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { startTestArray, type TestArray } from "../wsapi-server/server.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlOk } from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  getObject,
  startOperator,
  waitForCondition,
  wsapiClass,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const cls = `hpeh-${Math.random().toString(36).slice(2, 7)}`;
const api = "arraycopy.io/v1alpha1";
const size = 1 << 20;
let ns: string;
let backing: EmbeddedEngine;
let array: TestArray;
let op: RunningOperator;

interface Obj {
  metadata: { uid?: string };
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

/** A claim, then its PV as the HPE CSI driver's provisioning leaves it: pvc-<claim uid>, handle the same. */
async function hpeClaim(claim: string, handle?: (pv: string) => string): Promise<{ pv: string; handle: string }> {
  applyYaml({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: claim, namespace: ns },
    spec: {
      accessModes: ["ReadWriteOnce"],
      storageClassName: "hpe-standard",
      resources: { requests: { storage: "1Mi" } },
    },
  });
  const uid = await eventually(() => {
    const c = getObject<Obj>("pvc", ns, claim);
    expect(c?.metadata.uid).toBeDefined();
    return c?.metadata.uid ?? "";
  });
  const pv = `pvc-${uid}`;
  const volumeHandle = handle?.(pv) ?? pv;
  applyYaml({
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: { name: pv, annotations: { "pv.kubernetes.io/provisioned-by": "csi.hpe.com" } },
    spec: {
      capacity: { storage: "1Mi" },
      accessModes: ["ReadWriteOnce"],
      storageClassName: "hpe-standard",
      persistentVolumeReclaimPolicy: "Delete",
      claimRef: { namespace: ns, name: claim, uid },
      csi: {
        driver: "csi.hpe.com",
        volumeHandle,
        fsType: "xfs",
        // The StorageClass's parameters and the CSP's volume config, camelCased (csi-driver updateVolumeContext).
        volumeAttributes: {
          accessProtocol: "iscsi",
          cpg: "SSD_r6",
          provisioningType: "tpvv",
          fsType: "xfs",
          "storage.kubernetes.io/csiProvisionerIdentity": "1583271972595-8081-csi.hpe.com",
        },
      },
    },
  });
  // What the PV controller does next (no controller manager runs here): the claim's volumeName, then its phase.
  const patch = (body: unknown, ...more: string[]) =>
    kubectlOk(["patch", "pvc", claim, "-n", ns, ...more, "--type=merge", "-p", JSON.stringify(body)]);
  patch({ spec: { volumeName: pv } });
  patch(
    { status: { phase: "Bound", capacity: { storage: "1Mi" }, accessModes: ["ReadWriteOnce"] } },
    "--subresource=status",
  );
  return { pv, handle: volumeHandle };
}

function virtualCopyOf(name: string, claim: string): Record<string, unknown> {
  return {
    apiVersion: api,
    kind: "VirtualCopy",
    metadata: { name, namespace: ns },
    spec: { copyClassName: cls, source: { persistentVolumeClaimName: claim } },
  };
}

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("hpeh");
  backing = await openEmbeddedEngine({ dataDir: mkdtempSync(join(tmpdir(), "hpe-handles-")) });
  array = await startTestArray({ engine: backing });
  applyYaml(...wsapiClass(cls, array, ns));
  op = startOperator();
});

afterAll(async () => {
  await op.stop();
  await array.close();
  await backing.close();
  kubectl(["delete", "copyclass", cls, "--wait=false"]);
  kubectl(["delete", "crd", "hpevolumeinfos.storage.hpe.com", "--ignore-not-found", "--wait=false"]);
});

describe("a PVC source on the HPE CSI driver's 3PAR CSP", () => {
  it("is copied from the array volume named by the handle's first 31 characters", async () => {
    const { handle } = await hpeClaim("db");
    const volume = handle.slice(0, 31);
    await backing.createVolume(volume, size);
    // The handle's first 30 characters name another volume: only the rule's exact name is taken.
    await backing.createVolume(handle.slice(0, 30), size);
    applyYaml(virtualCopyOf("db-snap", "db"));
    const snap = await waitForCondition<Obj>("virtualcopy", ns, "db-snap", "Ready", { status: "True" });
    expect(snap.status?.["sourceVolume"]).toBe(volume);
    const seen = await backing.observeCopy(String(snap.status?.["arrayName"]));
    expect(seen?.source).toBe(volume);
  });

  it("is refused, naming the volume it expected, when the array has no such volume", async () => {
    const { pv, handle } = await hpeClaim("gone");
    applyYaml(virtualCopyOf("gone-snap", "gone"));
    const snap = await waitForCondition<Obj>("virtualcopy", ns, "gone-snap", "Ready", { status: "False" });
    const ready = conditionOf(snap, "Ready");
    expect(ready?.reason).toBe("SourceNotFound");
    expect(ready?.message).toContain(
      `PersistentVolume ${pv}'s array volume ${handle.slice(0, 31)} (the first 31 characters of its volumeHandle) ` +
        "is not on the array",
    );
    expect(snap.status?.["arrayName"]).toBeUndefined();
  });

  it("is refused as SourceDriverMismatch when the handle is not one this CSP makes", async () => {
    await hpeClaim("nimble", () => "063aba3d50ec99d866000000000000000000000001");
    applyYaml(virtualCopyOf("nimble-snap", "nimble"));
    const snap = await waitForCondition<Obj>("virtualcopy", ns, "nimble-snap", "Ready", { status: "False" });
    expect(conditionOf(snap, "Ready")).toMatchObject({ reason: "SourceDriverMismatch" });
    expect(conditionOf(snap, "Ready")?.message).toContain("names a PV's volume pvc-<uuid>");
  });

  it("takes the array volume an HPEVolumeInfo records for the PV over the truncation", async () => {
    // The CSP's CRD (co-deployments' hpevolumeinfos_v2_crd.yaml, by its shape: cluster-scoped, fields kept).
    applyYaml({
      apiVersion: "apiextensions.k8s.io/v1",
      kind: "CustomResourceDefinition",
      metadata: { name: "hpevolumeinfos.storage.hpe.com" },
      spec: {
        group: "storage.hpe.com",
        names: { kind: "HPEVolumeInfo", plural: "hpevolumeinfos" },
        scope: "Cluster",
        versions: [
          {
            name: "v2",
            served: true,
            storage: true,
            schema: { openAPIV3Schema: { type: "object", "x-kubernetes-preserve-unknown-fields": true } },
          },
        ],
      },
    });
    await eventually(() => {
      expect(kubectl(["get", "hpevolumeinfos"]).code).toBe(0);
    });
    const { handle } = await hpeClaim("renamed");
    // Renamed on the array (setvv -name) and recorded so; a volume under the truncated name exists too, and is
    // not the one copied.
    await backing.createVolume("legacy-db.0", size);
    await backing.createVolume(handle.slice(0, 31), size);
    applyYaml({
      apiVersion: "storage.hpe.com/v2",
      kind: "HPEVolumeInfo",
      metadata: { name: handle },
      spec: { record: { Id: handle, Name: "legacy-db.0" }, uuid: handle },
    });
    applyYaml(virtualCopyOf("renamed-snap", "renamed"));
    const snap = await waitForCondition<Obj>("virtualcopy", ns, "renamed-snap", "Ready", { status: "True" });
    expect(snap.status?.["sourceVolume"]).toBe("legacy-db.0");
    expect((await backing.observeCopy(String(snap.status?.["arrayName"])))?.source).toBe("legacy-db.0");
  });
});
