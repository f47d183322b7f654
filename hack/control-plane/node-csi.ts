// Block and Filesystem volumes on the one-node cluster: our CSI driver (hack/csi) in the node's mount namespace and
// cgroup, registered with the kubelet through its own registration socket, and kubernetes-csi's external-provisioner
// as a host process with an identity of its own, serving the StorageClass `arraycopy-csi`.
//
// Invariants:
// - the driver's images, records and sockets live under <dir>/csi (a path the namespace does not shadow, so the
//   host's provisioner and the namespace's kubelet reach the same socket);
// - the provisioner may do only what its ClusterRole grants (PVs, PVCs, classes, events, CSINodes, nodes);
// - startCsi returns once the kubelet has registered the driver (the CSINode lists it).
import { spawnSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { CsiBinaries } from "./binaries.ts";
import { launch, waitFor, type ClusterInfo } from "./cluster.ts";
import { nodeCommand, type NodeHost } from "./node-host.ts";

export const csiDriverName = "csi.arraycopy.io";
export const csiStorageClass = "arraycopy-csi";
/** The provisioner's token user (cluster.ts makes its kubeconfig). */
export const csiProvisionerUser = "arraycopy:csi-provisioner";

export const csiStateDir = (dir: string) => join(dir, "csi", "state");
export const csiSocket = (dir: string) => join(dir, "csi", "csi.sock");

export const rule = (apiGroups: string[], resources: string[], verbs: string[]) => ({ apiGroups, resources, verbs });

/** Binds the role of the same name to the token user `user`. */
export function userBinding(kind: "ClusterRoleBinding" | "RoleBinding", user: string, namespace?: string) {
  return {
    apiVersion: "rbac.authorization.k8s.io/v1",
    kind,
    metadata: namespace === undefined ? { name: user } : { name: user, namespace },
    roleRef: {
      apiGroup: "rbac.authorization.k8s.io",
      kind: kind === "RoleBinding" ? "Role" : "ClusterRole",
      name: user,
    },
    subjects: [{ apiGroup: "rbac.authorization.k8s.io", kind: "User", name: user }],
  };
}

function csiObjects(): string {
  const items = [
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "CSIDriver",
      metadata: { name: csiDriverName },
      // No external-attacher runs: the kubelet stages and publishes without a VolumeAttachment.
      spec: { attachRequired: false, podInfoOnMount: false, volumeLifecycleModes: ["Persistent"] },
    },
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: { name: csiStorageClass },
      provisioner: csiDriverName,
      // One node and no topology: a volume is usable wherever its pod lands, so it binds when it is created.
      volumeBindingMode: "Immediate",
      reclaimPolicy: "Delete",
      allowVolumeExpansion: false,
    },
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: csiProvisionerUser },
      rules: [
        rule([""], ["persistentvolumes"], ["get", "list", "watch", "create", "patch", "delete"]),
        rule([""], ["persistentvolumeclaims"], ["get", "list", "watch", "update"]),
        rule(["storage.k8s.io"], ["storageclasses", "csinodes", "volumeattachments"], ["get", "list", "watch"]),
        rule([""], ["events"], ["list", "watch", "create", "update", "patch"]),
        rule([""], ["nodes"], ["get", "list", "watch"]),
        // Restoring a PVC from a VolumeSnapshot, when the snapshot CRDs are installed.
        rule(["snapshot.storage.k8s.io"], ["volumesnapshots"], ["get", "list", "watch", "update"]),
        rule(["snapshot.storage.k8s.io"], ["volumesnapshotcontents"], ["get", "list"]),
      ],
    },
    userBinding("ClusterRoleBinding", csiProvisionerUser),
  ];
  return JSON.stringify({ apiVersion: "v1", kind: "List", items });
}

function registeredDrivers(cp: ClusterInfo, nodeName: string): string {
  const args = ["--kubeconfig", cp.kubeconfig, "get", "csinode", nodeName, "-o", "jsonpath={.spec.drivers[*].name}"];
  return spawnSync(cp.kubectl, args, { encoding: "utf8" }).stdout;
}

/** Starts the driver (after the kubelet: it registers in the kubelet's plugins_registry) and the provisioner. */
export async function startCsi(
  cp: ClusterInfo,
  bins: CsiBinaries,
  host: NodeHost,
  holderPid: number,
  nodeName: string,
): Promise<void> {
  const { dir } = cp;
  mkdirSync(csiStateDir(dir), { recursive: true });
  const applied = spawnSync(cp.kubectl, ["--kubeconfig", cp.kubeconfig, "apply", "-f", "-"], {
    encoding: "utf8",
    input: csiObjects(),
  });
  if (applied.status !== 0) throw new Error(`applying the CSI objects failed: ${applied.stderr}`);
  const env = "PATH=/usr/sbin:/usr/bin:/sbin:/bin";
  const driverArgs = [
    `--endpoint=${csiSocket(dir)}`,
    `--state-dir=${csiStateDir(dir)}`,
    `--driver-name=${csiDriverName}`,
    `--node-id=${nodeName}`,
    "--registration-dir=/var/lib/kubelet/plugins_registry",
  ];
  const c = nodeCommand(host, holderPid, "/usr/bin/env", [env, bins.driver, ...driverArgs]);
  const driver = launch(dir, "csi-driver", c.bin, c.args);
  await waitFor(
    "the CSI driver's registration with the kubelet",
    dir,
    driver,
    () => Promise.resolve(registeredDrivers(cp, nodeName).split(" ").includes(csiDriverName)),
    60_000,
  );
  const provisioner = launch(dir, "csi-provisioner", bins.provisioner, [
    `--csi-address=${csiSocket(dir)}`,
    `--kubeconfig=${join(dir, `kubeconfig-${csiProvisionerUser}`)}`,
    // A copy from a snapshot or a clone is a sparse copy of the image, which a large one makes longer than 10 s.
    "--timeout=120s",
    "--v=2",
  ]);
  await sleep(1_000);
  await waitFor(provisioner.name, dir, provisioner, () => Promise.resolve(true), 1_000);
}
