// The one-node cluster: the control plane of cluster.ts bound to the node's bridge address, plus
// kube-controller-manager, kube-scheduler, containerd (runc, cgroupfs, the locally built pause image) and a kubelet
// registered as a Ready node with its own client certificate and webhook authentication and authorization.
//
// Invariants:
// - every process is recorded in <dir>/pids.json like the control plane's; the runtime and the kubelet also sit in
//   the node's cgroup and mount namespace (node-host.ts), so teardown finds containers and shims too;
// - containerd and the kubelet write only under <dir> (their fixed paths are bound from <dir>/host);
// - startNodeCluster returns once the node is Ready and the default ServiceAccount exists.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { ensureCsiBinaries, ensureNodeBinaries } from "./binaries.ts";
import { freePort, launch, startCluster, waitFor, type ClusterInfo, type StartOptions } from "./cluster.ts";
import { apiserverKubeletUser, type NodePki } from "./node-pki.ts";
import { csiStorageClass, rule, startCsi, userBinding } from "./node-csi.ts";
import { holderCommand, nodeCommand, setServiceRule, setUpHost, type NodeHost } from "./node-host.ts";

export const nodeName = "arraycopy-node";

export interface NodeClusterInfo extends ClusterInfo {
  readonly node: {
    readonly name: string;
    readonly address: string;
    readonly podCidr: string;
    readonly bridge: string;
    /** containerd's socket, for `ctr --address` and crictl. */
    readonly containerdSocket: string;
    /** ctr of the same build as containerd. */
    readonly ctr: string;
    readonly pauseImage: string;
    /** The StorageClass of our CSI driver: Block and Filesystem volumes (node-csi.ts). */
    readonly csiStorageClass: string;
    readonly timings: Readonly<Record<string, number>>;
  };
}

function containerdConfig(dir: string, host: NodeHost, pauseImage: string): string {
  const c = join(dir, "containerd");
  return `# Written by hack/control-plane/node.ts: everything under ${c}.
version = 4
root = '${c}/root'
state = '${c}/state'
imports = []
# NRI would open a socket under /var/run/nri; nothing here uses it.
disabled_plugins = ['io.containerd.nri.v1.nri']

[grpc]
  address = '${c}/containerd.sock'

[plugins]
  [plugins.'io.containerd.server.v1.grpc']
    address = '${c}/containerd.sock'
  [plugins.'io.containerd.server.v1.ttrpc']
    address = '${c}/containerd.sock.ttrpc'
  [plugins.'io.containerd.internal.v1.opt']
    path = '${c}/opt'
  [plugins.'io.containerd.cri.v1.images']
    snapshotter = 'overlayfs'
    [plugins.'io.containerd.cri.v1.images'.pinned_images]
      sandbox = '${pauseImage}'
  [plugins.'io.containerd.cri.v1.runtime']
    # The sandbox lacks CAP_SYS_RESOURCE: runc cannot lower a container's oom_score_adj below its own.
    restrict_oom_score_adj = true
    netns_mounts_under_state_dir = true
    enable_cdi = false
    [plugins.'io.containerd.cri.v1.runtime'.containerd]
      default_runtime_name = 'runc'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
        runtime_type = 'io.containerd.runc.v2'
        [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
          BinaryName = '/usr/sbin/runc'
          SystemdCgroup = false
    [plugins.'io.containerd.cri.v1.runtime'.cni]
      bin_dirs = ['/usr/lib/cni']
      conf_dir = '${join(dir, "cni")}'
      max_conf_num = 1
  [plugins.'io.containerd.grpc.v1.cri']
    stream_server_address = '127.0.0.1'
    stream_server_port = '0'
`;
}

/** The pod network: Debian's bridge plugin on our bridge (which holds the gateway address), host-local IPAM. */
function cniConfig(dir: string, host: NodeHost): string {
  const [a, b, c] = host.address.split(".");
  return JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "arraycopy",
      plugins: [
        {
          type: "bridge",
          bridge: host.bridge,
          // Our bridge already has the gateway address; isGateway would also turn on the host's ip_forward.
          isGateway: false,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            dataDir: join(dir, "cni-ipam"),
            ranges: [[{ subnet: host.podCidr, rangeStart: `${a}.${b}.${c}.10`, gateway: host.address }]],
            routes: [{ dst: "0.0.0.0/0", gw: host.address }],
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  );
}

function kubeletConfig(dir: string, host: NodeHost, pki: NodePki, ports: { kubelet: number; healthz: number }) {
  return `# Written by hack/control-plane/node.ts.
apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# These machines have cgroup v1 (hybrid) only; kubelet >= 1.35 refuses it unless told.
failCgroupV1: false
cgroupDriver: cgroupfs
cgroupRoot: ${host.cgroup}
cgroupsPerQOS: true
enforceNodeAllocatable: []
containerRuntimeEndpoint: unix://${join(dir, "containerd", "containerd.sock")}
failSwapOn: false
address: ${host.address}
port: ${ports.kubelet}
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: ${ports.healthz}
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true, cacheTTL: 30s}
  x509: {clientCAFile: ${pki.clientCa}}
authorization:
  mode: Webhook
  webhook: {cacheAuthorizedTTL: 30s, cacheUnauthorizedTTL: 5s}
# Images are imported locally and can never be pulled again: never collect them.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard: {memory.available: 100Mi, nodefs.available: 1%, nodefs.inodesFree: 1%, imagefs.available: 1%}
maxPods: 30
# Lowering its own oom_score_adj needs CAP_SYS_RESOURCE, which the sandbox lacks.
oomScoreAdj: 0
serializeImagePulls: false
# Otherwise it adds KUBE-FIREWALL, KUBE-KUBELET-CANARY and KUBE-IPTABLES-HINT to the host's iptables tables, which
# outlive it; nothing here needs them (no kube-proxy, no localhost NodePorts).
makeIPTablesUtilChains: false
resolvConf: /etc/resolv.conf
`;
}

function kubeletKubeconfig(server: string, caFile: string, pki: NodePki): string {
  const b64 = (f: string) => readFileSync(f).toString("base64");
  return [
    "apiVersion: v1",
    "kind: Config",
    "clusters:",
    "- name: arraycopy-local",
    "  cluster:",
    `    server: ${server}`,
    `    certificate-authority-data: ${b64(caFile)}`,
    "users:",
    `- name: system:node:${nodeName}`,
    "  user:",
    `    client-certificate-data: ${b64(pki.kubeletCert)}`,
    `    client-key-data: ${b64(pki.kubeletKey)}`,
    "contexts:",
    "- name: arraycopy-local",
    "  context: {cluster: arraycopy-local, user: system:node:" + nodeName + "}",
    "current-context: arraycopy-local",
    "",
  ].join("\n");
}

function kubectl(info: ClusterInfo, args: readonly string[], input?: string): string {
  const res = spawnSync(info.kubectl, ["--kubeconfig", info.kubeconfig, ...args], { encoding: "utf8", input });
  if (res.status !== 0) throw new Error(`kubectl ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

function nodeReady(info: ClusterInfo): boolean {
  const jsonpath = 'jsonpath={.status.conditions[?(@.type=="Ready")].status}';
  const args = ["--kubeconfig", info.kubeconfig, "get", "node", nodeName, "-o", jsonpath];
  return spawnSync(info.kubectl, args, { encoding: "utf8" }).stdout.trim() === "True";
}

function ctr(bin: string, socket: string, args: readonly string[]): string {
  const res = spawnSync(bin, ["--address", socket, "--namespace", "k8s.io", ...args], { encoding: "utf8" });
  if (res.status !== 0) throw new Error(`ctr ${args.join(" ")} failed: ${res.stderr}`);
  return res.stdout;
}

async function eventually(what: string, probe: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (probe()) return;
    await sleep(250);
  }
  throw new Error(`${what} after ${timeoutMs} ms`);
}

const infoFile = (dir: string) => join(dir, "cluster.json");

export async function startNodeCluster(opts: StartOptions): Promise<NodeClusterInfo> {
  const log = opts.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const t0 = Date.now();
  const nodeBin = ensureNodeBinaries({ log });
  const csiBin = ensureCsiBinaries();
  const tBuilt = Date.now();
  let host: NodeHost | undefined;
  let pki: NodePki | undefined;
  const cp = await startCluster({
    ...opts,
    node: {
      // Called by startCluster once it has reaped an earlier run and emptied the directory.
      prepare: (dir) => {
        host = setUpHost(dir);
        return { address: host.address, name: nodeName };
      },
      pki: (p) => {
        pki = p;
      },
    },
  });
  if (host === undefined || pki === undefined) throw new Error("startCluster did not prepare the node");
  const { dir } = cp;
  const tControlPlane = Date.now();
  setServiceRule(host, Number(new URL(cp.server).port));
  kubectl(
    cp,
    ["create", "clusterrolebinding", "arraycopy:apiserver-kubelet", "--clusterrole=system:kubelet-api-admin"].concat([
      `--user=${apiserverKubeletUser}`,
    ]),
  );

  const pkiDir = join(dir, "pki");
  const kcm = launch(dir, "kube-controller-manager", join(nodeBin, "kube-controller-manager"), [
    `--kubeconfig=${join(dir, "kubeconfig-system:kube-controller-manager")}`,
    `--authentication-kubeconfig=${join(dir, "kubeconfig-system:kube-controller-manager")}`,
    `--authorization-kubeconfig=${join(dir, "kubeconfig-system:kube-controller-manager")}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${await freePort()}`,
    `--service-account-private-key-file=${join(pkiDir, "sa.key")}`,
    `--root-ca-file=${cp.caFile}`,
    "--use-service-account-credentials=true",
    // Its default is /usr/libexec/kubernetes/..., which it creates on the host.
    `--flex-volume-plugin-dir=${join(dir, "kcm-flexvolume")}`,
    "--leader-elect=false",
    // No CSR signing and no node IPAM: the kubelet has its certificate and the CNI config has the pod range.
    "--controllers=*,-csrsigning,-nodeipam",
    "--v=1",
  ]);
  const sched = launch(dir, "kube-scheduler", join(nodeBin, "kube-scheduler"), [
    `--kubeconfig=${join(dir, "kubeconfig-system:kube-scheduler")}`,
    `--authentication-kubeconfig=${join(dir, "kubeconfig-system:kube-scheduler")}`,
    `--authorization-kubeconfig=${join(dir, "kubeconfig-system:kube-scheduler")}`,
    "--bind-address=127.0.0.1",
    `--secure-port=${await freePort()}`,
    "--leader-elect=false",
    "--v=1",
  ]);

  const holder = holderCommand(host);
  const ns = launch(dir, "node-namespace", holder.bin, holder.args);
  // The holder has bound the fixed paths once its sleep runs.
  await waitFor(
    "the node's mount namespace",
    dir,
    ns,
    () => Promise.resolve(readFileSync(`/proc/${ns.pid}/comm`, "utf8").trim() === "sleep"),
    10_000,
  );

  const pauseImage = readFileSync(join(nodeBin, "pause-image.name"), "utf8").trim();
  const socket = join(dir, "containerd", "containerd.sock");
  mkdirSync(join(dir, "containerd"), { recursive: true });
  mkdirSync(join(dir, "cni"), { recursive: true });
  writeFileSync(join(dir, "containerd", "config.toml"), containerdConfig(dir, host, pauseImage));
  writeFileSync(join(dir, "cni", "10-arraycopy.conflist"), cniConfig(dir, host));
  const ctrBin = join(nodeBin, "ctr");
  const runtimeEnv = `PATH=${nodeBin}:/usr/sbin:/usr/bin:/sbin:/bin`;
  const ctd = launch(
    dir,
    "containerd",
    ...cmd(
      nodeCommand(
        host,
        ns.pid,
        "/usr/bin/env",
        [runtimeEnv].concat([join(nodeBin, "containerd"), "--config", join(dir, "containerd", "config.toml")]),
      ),
    ),
  );
  await waitFor(
    "containerd",
    dir,
    ctd,
    () => Promise.resolve(spawnSync(ctrBin, ["--address", socket, "version"]).status === 0),
    30_000,
  );
  ctr(ctrBin, socket, [
    "images",
    "import",
    "--base-name",
    readFileSync(join(nodeBin, "helper-image.name"), "utf8")
      .trim()
      .replace(/:[^:/]*$/, ""),
    join(nodeBin, "helper-image.tar"),
  ]);
  ctr(ctrBin, socket, [
    "images",
    "import",
    "--base-name",
    pauseImage.replace(/:[^:/]*$/, ""),
    join(nodeBin, "pause-image.tar"),
  ]);
  const tRuntime = Date.now();

  const kubeletDir = join(dir, "kubelet-config");
  mkdirSync(kubeletDir, { recursive: true });
  writeFileSync(join(kubeletDir, "kubeconfig"), kubeletKubeconfig(cp.server, cp.caFile, pki), { mode: 0o600 });
  const ports = { kubelet: await freePort(), healthz: await freePort() };
  writeFileSync(join(kubeletDir, "config.yaml"), kubeletConfig(dir, host, pki, ports));
  const kubelet = launch(
    dir,
    "kubelet",
    ...cmd(
      nodeCommand(
        host,
        ns.pid,
        "/usr/bin/env",
        [runtimeEnv]
          .concat([join(nodeBin, "kubelet"), `--config=${join(kubeletDir, "config.yaml")}`])
          .concat([`--kubeconfig=${join(kubeletDir, "kubeconfig")}`, `--hostname-override=${nodeName}`])
          .concat([`--node-ip=${host.address}`, `--cert-dir=${join(kubeletDir, "pki")}`, "--v=1"]),
      ),
    ),
  );
  await waitFor("the node", dir, kubelet, () => Promise.resolve(nodeReady(cp)), 120_000);
  // Both started before the kubelet: a bad flag would have ended them by now.
  for (const p of [kcm, sched]) await waitFor(p.name, dir, p, () => Promise.resolve(true), 1_000);
  const tReady = Date.now();
  await startProvisioner(cp, dir, nodeBin);
  await startCsi(cp, csiBin, host, ns.pid, nodeName);
  const tCsi = Date.now();
  if (opts.ownerPid !== undefined) startNodeWatchdog(dir, opts.ownerPid);
  await eventually(
    "no default ServiceAccount",
    () =>
      spawnSync(cp.kubectl, ["--kubeconfig", cp.kubeconfig, "get", "serviceaccount", "default", "-n", "default"])
        .status === 0,
    60_000,
  );
  const info: NodeClusterInfo = {
    ...cp,
    node: {
      name: nodeName,
      address: host.address,
      podCidr: host.podCidr,
      bridge: host.bridge,
      containerdSocket: socket,
      ctr: ctrBin,
      pauseImage,
      csiStorageClass,
      timings: {
        buildMs: tBuilt - t0,
        controlPlaneMs: tControlPlane - tBuilt,
        runtimeMs: tRuntime - tControlPlane,
        nodeReadyMs: tReady - tRuntime,
        provisionersMs: tCsi - tReady,
        totalMs: Date.now() - t0,
      },
    },
  };
  writeFileSync(infoFile(dir), JSON.stringify(info, null, 2), { mode: 0o600 });
  log(`[node] ${nodeName} Ready at ${host.address} in ${Date.now() - t0} ms (pods on ${host.podCidr})`);
  return info;
}

/** The provisioner's objects: its namespace, the helper pods' ServiceAccount, its ConfigMap, the default class. */
function provisionerObjects(dir: string, helperImage: string): string {
  const config = { nodePathMap: [{ node: "DEFAULT_PATH_FOR_NON_LISTED_NODES", paths: [join(dir, "local-path")] }] };
  const helperPod = [
    "apiVersion: v1",
    "kind: Pod",
    "metadata: {name: helper-pod}",
    "spec:",
    "  containers:",
    `  - {name: helper-pod, image: "${helperImage}", imagePullPolicy: Never}`,
  ].join("\n");
  const objects = [
    { apiVersion: "v1", kind: "Namespace", metadata: { name: provisionerNamespace } },
    {
      apiVersion: "v1",
      kind: "ServiceAccount",
      metadata: { name: "local-path-helper", namespace: provisionerNamespace },
    },
    {
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "local-path-config", namespace: provisionerNamespace },
      data: {
        "config.json": JSON.stringify(config),
        setup: '#!/bin/sh\nset -eu\nmkdir -m 0777 -p "$VOL_DIR"\n',
        teardown: '#!/bin/sh\nset -eu\nrm -rf "$VOL_DIR"\n',
        "helperPod.yaml": helperPod,
      },
    },
    // What upstream's deploy/local-path-storage.yaml grants its ServiceAccount, granted here to its token user.
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "ClusterRole",
      metadata: { name: localPathUser },
      rules: [
        rule([""], ["nodes", "persistentvolumeclaims", "configmaps", "pods", "pods/log"], ["get", "list", "watch"]),
        rule([""], ["persistentvolumes"], ["get", "list", "watch", "create", "patch", "update", "delete"]),
        rule([""], ["events"], ["create", "patch"]),
        rule(["storage.k8s.io"], ["storageclasses"], ["get", "list", "watch"]),
      ],
    },
    userBinding("ClusterRoleBinding", localPathUser),
    {
      apiVersion: "rbac.authorization.k8s.io/v1",
      kind: "Role",
      metadata: { name: localPathUser, namespace: provisionerNamespace },
      // Its helper pods, which make and remove the volumes' directories on the node.
      rules: [rule([""], ["pods"], ["get", "list", "watch", "create", "patch", "update", "delete"])],
    },
    userBinding("RoleBinding", localPathUser, provisionerNamespace),
    {
      apiVersion: "storage.k8s.io/v1",
      kind: "StorageClass",
      metadata: {
        name: "local-path",
        annotations: { "storageclass.kubernetes.io/is-default-class": "true" },
      },
      provisioner: "rancher.io/local-path",
      volumeBindingMode: "WaitForFirstConsumer",
      reclaimPolicy: "Delete",
    },
  ];
  return JSON.stringify({ apiVersion: "v1", kind: "List", items: objects });
}

export const provisionerNamespace = "local-path-storage";
/** The provisioner's token user (cluster.ts makes its kubeconfig); it may do what upstream's manifest grants. */
const localPathUser = "arraycopy:local-path-provisioner";

/**
 * rancher's local-path-provisioner as a process of the host, with an identity of its own that may do only what its
 * roles grant, and the default StorageClass: Filesystem PVCs bind to directories under <dir>/local-path, made and
 * removed by its helper pods on the node.
 */
async function startProvisioner(cp: ClusterInfo, dir: string, nodeBin: string): Promise<void> {
  const helperImage = readFileSync(join(nodeBin, "helper-image.name"), "utf8").trim();
  mkdirSync(join(dir, "local-path"), { recursive: true });
  kubectl(cp, ["apply", "-f", "-"], provisionerObjects(dir, helperImage));
  const p = launch(dir, "local-path-provisioner", join(nodeBin, "local-path-provisioner"), [
    "--debug",
    "start",
    `--kubeconfig=${join(dir, `kubeconfig-${localPathUser}`)}`,
    "--provisioner-name=rancher.io/local-path",
    `--namespace=${provisionerNamespace}`,
    "--configmap-name=local-path-config",
    `--helper-image=${helperImage}`,
    "--service-account-name=local-path-helper",
  ]);
  await sleep(1_000);
  await waitFor(p.name, dir, p, () => Promise.resolve(true), 1_000);
}

/**
 * Once `ownerPid` is gone, a full `cluster down` of this directory (processes, containers, cgroups, bridge, nft):
 * in a session of its own, so that stopping the recorded groups (this watchdog's among them) does not stop it.
 */
function startNodeWatchdog(dir: string, ownerPid: number): void {
  const clusterScript = join(import.meta.dirname, "..", "cluster.ts");
  const script =
    `while kill -0 ${ownerPid} 2>/dev/null; do sleep 1; done; ` +
    `ARRAYCOPY_CLUSTER_DIR='${dir}' exec setsid '${process.execPath}' '${clusterScript}' down`;
  launch(dir, "node-watchdog", "/bin/sh", ["-c", script]);
}

function cmd(c: { bin: string; args: string[] }): [string, string[]] {
  return [c.bin, c.args];
}

/** Imports an image archive (docker-archive or OCI) into the node's containerd under `name`. */
export function importImage(info: NodeClusterInfo, archive: string, name: string): void {
  ctr(info.node.ctr, info.node.containerdSocket, [
    "images",
    "import",
    "--base-name",
    name.replace(/:[^:/]*$/, ""),
    archive,
  ]);
}
