// The Helm chart with a real helm (built from the Go module proxy) against the real apiserver: lint, values schema,
// every rendered object accepted by the apiserver (server dry run), an install whose objects exist, and its RBAC
// proven — the operator runs in this process with a TokenRequest token of the chart's ServiceAccount, so every
// request it makes is authorised by the chart's ClusterRole and Role alone, and passes a full lifecycle; the same
// token is then refused what the operator does not need. No pod ever runs here (no controller-manager, no kubelet):
// the Deployment is asserted as an object, and the operator's container is stood in for by the in-process operator.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments, stringify } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureBinaries } from "../../hack/control-plane/binaries.ts";
import { loadConfig } from "../../operator/src/config.ts";
import { finalizerPolicy } from "../../operator/src/controllers/shared/finalizer-policy.ts";
import {
  cluster,
  eventually,
  freshNamespace,
  installCrds,
  kubectlAsync,
  kubectlAsyncOk,
  kubectlOk,
  repoRoot,
  type KubectlResult,
} from "../support/cluster.ts";
import {
  applyYaml,
  conditionOf,
  eventsFor,
  getObject,
  startOperator,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";

const chart = join(repoRoot, "charts", "arraycopy");
const release = `ac-${Math.random().toString(36).slice(2, 7)}`;
const cls = `${release}-embedded`;
const fullname = `${release}-arraycopy`;
// Values of every install here: a class of our own, not marked default, so other test files' defaults stay unique.
const installValues = ["--set", `copyClasses.embedded.name=${cls}`, "--set", "copyClasses.embedded.default=false"];
const helmHome = mkdtempSync(join(tmpdir(), "arraycopy-helm-"));
let helmBin: string;
let ns: string;
let op: RunningOperator | undefined;
let tokenKubeconfig: string;

interface Obj {
  kind: string;
  metadata: { name: string; namespace?: string; annotations?: Record<string, string> };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

/** helm with its config, cache and data under a temporary directory, against the test cluster as admin. */
function helm(args: readonly string[]): KubectlResult {
  const res = spawnSync(helmBin, [...args, "--kubeconfig", cluster().kubeconfig], {
    encoding: "utf8",
    cwd: repoRoot,
    timeout: 120_000,
    env: {
      ...process.env,
      HELM_CONFIG_HOME: join(helmHome, "config"),
      HELM_CACHE_HOME: join(helmHome, "cache"),
      HELM_DATA_HOME: join(helmHome, "data"),
    },
  });
  return { code: res.status ?? -1, stdout: res.stdout, stderr: res.stderr };
}

function helmOk(args: readonly string[]): string {
  const res = helm(args);
  if (res.code !== 0) throw new Error(`helm ${args.join(" ")} failed (${res.code}): ${res.stderr}${res.stdout}`);
  return res.stdout;
}

/** kubectl as the chart's ServiceAccount; asynchronous because the operator runs in this process. */
function asOperator(args: readonly string[], input?: string): Promise<KubectlResult> {
  return kubectlAsync(
    args,
    input === undefined ? { kubeconfig: tokenKubeconfig } : { kubeconfig: tokenKubeconfig, input },
  );
}

const rendered = (out: string) =>
  parseAllDocuments(out)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null);

beforeAll(() => {
  // Builds helm on first use (about 1.5 minutes cold, progress on stderr), beside the control plane's binaries.
  helmBin = join(ensureBinaries({ helm: true }), "helm");
  installCrds();
  ns = freshNamespace("chart");
}, 600_000);

afterAll(async () => {
  await op?.stop();
});

describe("the chart", () => {
  it("passes helm lint --strict, with the default values and with the wsapi class", () => {
    helmOk(["lint", "--strict", chart]);
    helmOk([
      "lint",
      "--strict",
      chart,
      "--set",
      "copyClasses.wsapi.create=true",
      "--set",
      "copyClasses.wsapi.credentials.username=u",
      "--set",
      "copyClasses.wsapi.credentials.password=p",
      "--set",
      "metrics.serviceMonitor.enabled=true",
    ]);
  });

  it.each([
    {
      why: "a misspelt value is refused, not silently ignored",
      set: "persistance.enabled=false",
      error: "additional properties 'persistance' not allowed",
    },
    { why: "zero replicas would leave no operator", set: "replicaCount=0", error: "/replicaCount" },
    {
      why: "a log level the operator would refuse at start",
      set: "operator.logLevel=verbose",
      error: "/operator/logLevel",
    },
    {
      why: "a data volume two pods could write",
      set: "persistence.accessMode=ReadWriteMany",
      error: "/persistence/accessMode",
    },
    {
      why: "a cim listener without the URL the arrays reach it at",
      set: "cimListener.enabled=true",
      error: "/cimListener/url",
    },
    {
      why: "a plain-http array endpoint",
      set: "copyClasses.wsapi.endpoint=http://array",
      error: "/copyClasses/wsapi/endpoint",
    },
  ])("values.schema.json: $why", ({ set, error }) => {
    const res = helm(["template", "x", chart, "--set", set]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain(error);
  });
  it("registers the populator with VolumePopulator objects only where their CRD exists", async () => {
    const kinds = (out: string) =>
      rendered(out)
        .filter((o) => o.kind === "VolumePopulator")
        .map((o) => (o as { sourceKind?: { group: string; kind: string } }).sourceKind);
    expect(kinds(helmOk(["template", "x", chart]))).toEqual([]);
    const withCrd = helmOk([
      "template",
      "x",
      chart,
      "--api-versions",
      "populator.storage.k8s.io/v1beta1/VolumePopulator",
    ]);
    expect(kinds(withCrd)).toEqual([
      { group: "arraycopy.io", kind: "VirtualCopy" },
      { group: "arraycopy.io", kind: "PhysicalCopy" },
    ]);
    // The reproduced CRD is accepted, and the objects it renders with it pass server-side validation.
    kubectlOk(["apply", "-f", join(repoRoot, "deploy", "volume-populator", "volumepopulators-crd.yaml")]);
    const objects = rendered(withCrd).filter((o) => o.kind === "VolumePopulator");
    await eventually(() => {
      kubectlOk(["apply", "--dry-run=server", "-f", "-"], { input: objects.map((o) => stringify(o)).join("---\n") });
    });
  });

  it("refuses a wsapi class without credentials or an existing Secret", () => {
    const res = helm(["template", "x", chart, "--set", "copyClasses.wsapi.create=true"]);
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("copyClasses.wsapi.credentials.username is required");
  });

  it("renders objects the apiserver accepts: every one passes kubectl apply --dry-run=server", async () => {
    const out = helmOk([
      "template",
      release,
      chart,
      "-n",
      ns,
      "--include-crds",
      ...installValues,
      "--set",
      "copyClasses.wsapi.create=true",
      "--set",
      `copyClasses.wsapi.name=${release}-array`,
      "--set",
      "copyClasses.wsapi.credentials.username=u",
      "--set",
      "copyClasses.wsapi.credentials.password=p",
      "--api-versions",
      "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy",
    ]);
    const objects = rendered(out);
    expect(objects.map((o) => o.kind).sort()).toEqual([
      "ClusterRole",
      "ClusterRoleBinding",
      "CopyClass",
      "CopyClass",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "CustomResourceDefinition",
      "Deployment",
      "MutatingAdmissionPolicy",
      "MutatingAdmissionPolicyBinding",
      "PersistentVolumeClaim",
      "PodDisruptionBudget",
      "Role",
      "RoleBinding",
      "Secret",
      "Service",
      "ServiceAccount",
    ]);
    // Server-side apply: the CRDs already exist (applied the same way by installCrds), and the apiserver runs its
    // full validation (schemas, CEL rules, admission) on each object without persisting it.
    const res = await kubectlAsync(["apply", "--server-side", "--dry-run=server", "-f", "-"], { input: out });
    expect(res.code, res.stderr).toBe(0);
    // One "(server dry run)" line per object: none skipped.
    expect(
      res.stdout
        .trim()
        .split("\n")
        .filter((l) => l.endsWith("(server dry run)")),
    ).toHaveLength(objects.length);
  });

  it("renders the finalizer policy where the API server serves it: the generated policy, named for the release", () => {
    const policyApi = ["--api-versions", "admissionregistration.k8s.io/v1/MutatingAdmissionPolicy"];
    const policies = (out: string) => rendered(out).filter((o) => o.kind.startsWith("MutatingAdmissionPolicy"));
    expect(policies(helmOk(["template", "x", chart]))).toEqual([]);
    expect(policies(helmOk(["template", "x", chart, ...policyApi, "--set", "finalizerPolicy.enabled=false"]))).toEqual(
      [],
    );
    const [policy, binding] = policies(
      helmOk([
        "template",
        "x",
        chart,
        ...policyApi,
        "--set-json",
        'finalizerPolicy.namespaceSelector={"matchLabels":{"team":"db"}}',
      ]),
    );
    const [want, wantBinding] = finalizerPolicy({
      name: "x-arraycopy-finalizer",
      namespaceSelector: { matchLabels: { team: "db" } },
    });
    expect(policy?.metadata.name).toBe("x-arraycopy-finalizer");
    expect(policy?.spec).toEqual(want?.["spec"]);
    expect(binding?.spec).toEqual(wantBinding?.["spec"]);
  });

  it("renders the optional pieces: emptyDir without persistence, a ServiceMonitor, a digest-pinned image", () => {
    const objects = rendered(
      helmOk([
        "template",
        release,
        chart,
        "-n",
        ns,
        "--set",
        "persistence.enabled=false",
        "--set",
        "metrics.serviceMonitor.enabled=true",
        "--set",
        `image.digest=sha256:${"a".repeat(64)}`,
      ]),
    );
    expect(objects.map((o) => o.kind)).not.toContain("PersistentVolumeClaim");
    expect(JSON.stringify(objects.find((o) => o.kind === "Deployment"))).not.toContain("podAffinity");
    expect(objects.map((o) => o.kind)).toContain("ServiceMonitor");
    const deployment = JSON.stringify(objects.find((o) => o.kind === "Deployment"));
    expect(deployment).toContain('"name":"data","emptyDir":{}');
    expect(deployment).toContain(`@sha256:${"a".repeat(64)}`);
  });

  it("renders the cim listener: a Service on a fixed node port, the container port, flags, TLS Secret", async () => {
    const out = helmOk([
      "template",
      release,
      chart,
      "-n",
      ns,
      ...installValues,
      "--set",
      "cimListener.enabled=true",
      "--set",
      "cimListener.url=https://10.0.0.21:30990",
      "--set",
      "cimListener.service.nodePort=30990",
      "--set",
      "cimListener.tlsSecretName=listener-tls",
    ]);
    const objects = rendered(out);
    const service = objects.find((o) => o.kind === "Service" && o.metadata.name.endsWith("-cim-listener"));
    expect(service?.spec).toMatchObject({
      type: "NodePort",
      ports: [{ name: "cim-listener", port: 5990, targetPort: "cim-listener", nodePort: 30990 }],
      // The leader only (--label-leader-pod): a standby refuses deliveries.
      selector: { "app.kubernetes.io/name": "arraycopy", "arraycopy.io/leader": "true" },
    });
    const deployment = JSON.stringify(objects.find((o) => o.kind === "Deployment"));
    for (const piece of [
      '"--cim-listener-port=5990"',
      '"--label-leader-pod=true"',
      '"--cim-listener-url=https://10.0.0.21:30990"',
      '"--cim-listener-cert-file=/etc/arraycopy/cim-listener/tls.crt"',
      '{"name":"cim-listener","containerPort":5990,"protocol":"TCP"}',
      '"secret":{"secretName":"listener-tls"}',
    ])
      expect(deployment).toContain(piece);
    const res = await kubectlAsync(["apply", "--server-side", "--dry-run=server", "-f", "-"], {
      input: out
        .split(/^---$/m)
        .filter((d) => d.includes("cim-listener-service.yaml"))
        .join("---"),
    });
    expect(res.code, res.stderr).toBe(0);
  });
});

describe("helm install into the real apiserver", () => {
  it("creates every object; the Deployment is hardened and runs two replicas with leader election", () => {
    // The finalizer policy is cluster-wide by default: here it is bound to this file's namespace alone, so the
    // other test files sharing the cluster do not get finalizers from it.
    const scoped = `finalizerPolicy.namespaceSelector={"matchLabels":{"kubernetes.io/metadata.name":"${ns}"}}`;
    helmOk(["install", release, chart, "-n", ns, ...installValues, "--set-json", scoped]);
    expect(helmOk(["status", release, "-n", ns, "-o", "json"])).toContain('"status":"deployed"');
    const namespaced: [string, string][] = [
      ["serviceaccount", fullname],
      ["role", fullname],
      ["rolebinding", fullname],
      ["deployment", fullname],
      ["poddisruptionbudget", fullname],
      ["service", `${fullname}-metrics`],
      ["persistentvolumeclaim", `${fullname}-data`],
    ];
    for (const [kind, name] of namespaced) expect(getObject(kind, ns, name), `${kind}/${name}`).toBeDefined();
    const clusterScoped: [string, string][] = [
      ["clusterrole", fullname],
      ["clusterrolebinding", fullname],
      ["copyclass", cls],
      ["mutatingadmissionpolicy", `${fullname}-finalizer`],
      ["mutatingadmissionpolicybinding", `${fullname}-finalizer`],
    ];
    for (const [kind, name] of clusterScoped) expect(getObject(kind, undefined, name), `${kind}/${name}`).toBeDefined();
    const d = getObject<{
      spec: {
        replicas: number;
        template: {
          spec: {
            securityContext: unknown;
            affinity?: unknown;
            containers: Record<string, unknown>[];
            volumes: unknown[];
          };
        };
      };
    }>("deployment", ns, fullname);
    const pod = d?.spec.template.spec;
    const container = pod?.containers[0];
    expect(d?.spec.replicas).toBe(2);
    expect(pod?.securityContext).toMatchObject({ runAsNonRoot: true, seccompProfile: { type: "RuntimeDefault" } });
    expect(container?.securityContext).toMatchObject({
      readOnlyRootFilesystem: true,
      allowPrivilegeEscalation: false,
      capabilities: { drop: ["ALL"] },
      seccompProfile: { type: "RuntimeDefault" },
    });
    // The image's entrypoint is node (distroless): its args are node flags, the script the Dockerfile builds, then
    // flags the operator itself accepts (its own parser, strict: an unknown flag throws).
    const args = container?.args as string[];
    const script = args.indexOf("dist/main.js");
    expect(script).toBeGreaterThanOrEqual(0);
    expect(args.slice(0, script)).toEqual(["--optimize-for-size"]);
    expect(readFileSync(join(repoRoot, "Dockerfile"), "utf8")).toMatch(
      /^CMD \["--optimize-for-size", "dist\/main\.js"\]$/m,
    );
    const config = loadConfig(args.slice(script + 1), {});
    expect(config).toMatchObject({ leaderElect: true, dataDir: "/var/lib/arraycopy", qps: 0, workers: 16 });
    expect(container?.livenessProbe).toMatchObject({ httpGet: { path: "/healthz", port: "metrics" } });
    expect(container?.readinessProbe).toMatchObject({ httpGet: { path: "/readyz", port: "metrics" } });
    expect(container?.env).toEqual([
      { name: "POD_NAME", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "metadata.namespace" } } },
      { name: "POD_IP", valueFrom: { fieldRef: { apiVersion: "v1", fieldPath: "status.podIP" } } },
    ]);
    // The populator's pods run the operator's own image.
    expect(config.populatorImage).toBe(container?.image);
    expect(pod?.volumes).toContainEqual({ name: "data", persistentVolumeClaim: { claimName: `${fullname}-data` } });
    // Both replicas on one node, so the standby can mount the ReadWriteOnce data volume too.
    expect(JSON.stringify(pod?.affinity)).toContain('"topologyKey":"kubernetes.io/hostname"');
  });

  it("runs the operator with only the ServiceAccount's RBAC through a full lifecycle", async () => {
    // TokenRequest: the token a pod of the Deployment would get, bound to the chart's ServiceAccount.
    const token = kubectlOk(["create", "token", fullname, "-n", ns, "--duration=1h"]).trim();
    tokenKubeconfig = join(helmHome, "operator.kubeconfig");
    writeFileSync(
      tokenKubeconfig,
      stringify({
        apiVersion: "v1",
        kind: "Config",
        clusters: [{ name: "test", cluster: { server: cluster().server, "certificate-authority": cluster().caFile } }],
        users: [{ name: "operator", user: { token } }],
        contexts: [{ name: "operator", context: { cluster: "test", user: "operator" } }],
        "current-context": "operator",
      }),
      { mode: 0o600 },
    );
    expect((await asOperator(["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"])).stdout).toBe(
      `system:serviceaccount:${ns}:${fullname}`,
    );

    // As the Deployment runs it: leader election on, the Lease in the release namespace (POD_NAMESPACE there).
    op = startOperator([
      "--kubeconfig",
      tokenKubeconfig,
      "--leader-elect",
      "true",
      "--lease-namespace",
      ns,
      "--identity",
      `${release}-pod`,
    ]);
    await eventually(() => {
      expect(kubectlOk(["get", "lease", "arraycopy-operator", "-n", ns, "-o", "jsonpath={.spec.holderIdentity}"])).toBe(
        `${release}-pod`,
      );
    });
    const engine = await op.engine(cls);
    for (const v of ["prod", "test-env"]) await engine.volumes.createVolume(v, 4 << 20);
    const spec = (source: string) => ({ copyClassName: cls, source: { volumeName: source } });
    const waitFor = (kind: string, name: string, type: string) =>
      eventually(() => {
        const obj = getObject<Obj>(kind, ns, name);
        expect(conditionOf(obj, type), `${kind}/${name} ${type}`).toMatchObject({ status: "True" });
        return obj as Obj;
      }, 60_000);

    // A PVC source: the operator must read the PVC and its PV.
    applyYaml(
      {
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: `pv-${ns}` },
        spec: {
          capacity: { storage: "4Mi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "",
          claimRef: { namespace: ns, name: "prod-claim" },
          csi: { driver: "csi.hpe.com", volumeHandle: "prod" },
        },
      },
      {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "prod-claim", namespace: ns },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "",
          volumeName: `pv-${ns}`,
          resources: { requests: { storage: "4Mi" } },
        },
      },
      {
        apiVersion: "arraycopy.io/v1alpha1",
        kind: "VirtualCopy",
        metadata: { name: "snap", namespace: ns },
        spec: { copyClassName: cls, source: { persistentVolumeClaimName: "prod-claim" } },
      },
    );
    const snap = await waitFor("virtualcopy", "snap", "Ready");
    expect(snap.status).toMatchObject({ syncState: "Idle", sourceVolume: "prod" });
    // The chart's finalizer policy put the finalizer on at create: the operator wrote only the status.
    const shown = kubectlOk(["get", "virtualcopy", "snap", "-n", ns, "-o", "json", "--show-managed-fields"]);
    const writers = (JSON.parse(shown) as { metadata: { managedFields?: { manager: string; subresource?: string }[] } })
      .metadata.managedFields;
    const metadataWriters = writers?.filter((f) => f.subresource !== "status").map((f) => f.manager);
    expect(metadataWriters).toEqual(["kubectl-client-side-apply"]);
    // Deletion runs the finalizer (a patch) and removes the array copy.
    await kubectlAsyncOk(["delete", "virtualcopy", "snap", "-n", ns, "--timeout=60s"]);
    expect(await engine.observeCopy(String(snap.status?.arrayName))).toBeUndefined();

    // A VirtualCopyGroup by label selector: the claims are listed (list persistentvolumeclaims).
    kubectlOk(["label", "pvc", "prod-claim", "-n", ns, "app=prod"]);
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopyGroup",
      metadata: { name: "group", namespace: ns },
      spec: { copyClassName: cls, members: { selector: { matchLabels: { app: "prod" } } } },
    });
    const grouped = await waitFor("virtualcopygroup", "group", "Ready");
    expect(grouped.status).toMatchObject({ memberCount: 1, readyMembers: 1 });
    await kubectlAsyncOk(["delete", "virtualcopygroup", "group", "-n", ns, "--timeout=60s"]);

    // A PhysicalCopy: the operator creates its CopyJob and writes both statuses.
    applyYaml({
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "PhysicalCopy",
      metadata: { name: "full", namespace: ns },
      spec: { ...spec("prod"), target: { volumeName: "test-env" }, saveSnapshot: true },
    });
    const job = await waitFor("copyjob", "full-copy", "Succeeded");
    expect(job.status).toMatchObject({
      jobState: "Completed",
      operationalStatus: ["Completed", "OK"],
      percentComplete: 100,
    });
    expect((await waitFor("physicalcopy", "full", "Ready")).status).toMatchObject({
      syncState: "Frozen",
      percentSynced: 100,
    });
    // Events were recorded with the operator's own rights (events.k8s.io create).
    await eventually(() => {
      expect(eventsFor(ns, "full-copy").map((e) => e.reason)).toEqual(expect.arrayContaining(["Started", "Succeeded"]));
    });
    await kubectlAsyncOk(["delete", "physicalcopy", "full", "-n", ns, "--timeout=60s"]);
    // The lifecycle needed no request the apiserver refused: a Forbidden would show as a retried reconcile that
    // never converges (the waits above), so reaching here is the proof; the probe below shows the other side.
  });

  // Each of these the operator never does. Real requests with --dry-run=server where they write (authorization is
  // checked before the dry run, so a permitted one would answer "(server dry run)" and change nothing).
  it.each([
    { why: "Secrets are never listed, in any namespace", args: ["get", "secrets", "-A"] },
    { why: "not even in its own namespace", args: ["get", "secrets", "-n", "@ns"] },
    {
      why: "CRDs are the chart's, not the operator's",
      args: ["delete", "crd", "copyclasses.arraycopy.io", "--dry-run=server"],
    },
    {
      why: "it runs pods only in the release namespace (the populator's)",
      args: ["run", "intruder", "-n", "default", "--image=busybox", "--dry-run=server"],
    },
    {
      why: "it updates no Deployments, its own included",
      args: ["scale", "deployment", "@fullname", "-n", "@ns", "--replicas=5", "--dry-run=server"],
    },
    {
      why: "users' PVCs are patched (finalizer, annotation), never deleted",
      args: ["delete", "pvc", "prod-claim", "-n", "default", "--dry-run=server"],
    },
    { why: "Secrets only in the release namespace", args: ["get", "secret", "anything", "-n", "default"] },
    { why: "PVs are read by name, never listed", args: ["get", "pv"] },
    { why: "CopyClasses are the administrator's", args: ["delete", "copyclass", "@cls", "--dry-run=server"] },
    {
      // Virtual copies it may delete: those its CopySchedules made, by retention (RBAC cannot tell them apart).
      why: "physical copies are not deleted by the operator",
      args: ["delete", "physicalcopy", "any", "-n", "@ns", "--dry-run=server"],
    },
    {
      why: "no RBAC escalation",
      args: ["create", "clusterrolebinding", "escalate", "--clusterrole=cluster-admin", "--user=x", "--dry-run=server"],
    },
    {
      why: "Leases only in the release namespace",
      args: ["create", "-f", "-", "--dry-run=server"],
      input: {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: "x", namespace: "default" },
        spec: {},
      },
    },
    { why: "and only its own Lease there", args: ["get", "lease", "someone-elses", "-n", "@ns"] },
  ])("the token is refused: $why", async ({ args, input }) => {
    const res = await asOperator(
      args.map((a) => a.replace("@ns", ns).replace("@fullname", fullname).replace("@cls", cls)),
      input === undefined ? undefined : JSON.stringify(input),
    );
    expect(res.code, res.stdout).not.toBe(0);
    expect(res.stderr).toMatch(/forbidden/i);
  });

  // The edges of each rule, answered by the apiserver's authorizer (SelfSubjectAccessReview): what it may do and
  // the neighbouring request it may not (the verb next to the granted one, the core group beside events.k8s.io).
  it.each([
    { verb: "list", resource: "virtualcopies.arraycopy.io", sub: "", allowed: true },
    { verb: "patch", resource: "copyclasses.arraycopy.io", sub: "status", allowed: true },
    { verb: "watch", resource: "copyjobs.arraycopy.io", sub: "", allowed: true },
    { verb: "patch", resource: "physicalcopies.arraycopy.io", sub: "status", allowed: true },
    { verb: "patch", resource: "copyschedules.arraycopy.io", sub: "status", allowed: true },
    { verb: "create", resource: "virtualcopies.arraycopy.io", sub: "", allowed: true },
    { verb: "delete", resource: "copyschedules.arraycopy.io", sub: "", allowed: false },
    { verb: "patch", resource: "copyclasses.arraycopy.io", sub: "", allowed: false },
    { verb: "update", resource: "virtualcopies.arraycopy.io", sub: "", allowed: false },
    { verb: "get", resource: "persistentvolumes", sub: "", allowed: true },
    { verb: "list", resource: "persistentvolumes", sub: "", allowed: false },
    { verb: "create", resource: "events.events.k8s.io", sub: "", allowed: true },
    { verb: "create", resource: "pods", inNamespace: true, sub: "", allowed: true },
    { verb: "create", resource: "pods", sub: "", allowed: false },
    // The leader label on its own pod.
    { verb: "patch", resource: "pods", inNamespace: true, sub: "", allowed: true },
    { verb: "patch", resource: "pods", sub: "", allowed: false },
    { verb: "update", resource: "pods", inNamespace: true, sub: "", allowed: false },
    { verb: "watch", resource: "persistentvolumeclaims", sub: "", allowed: true },
    { verb: "delete", resource: "persistentvolumeclaims", sub: "", allowed: false },
    { verb: "delete", resource: "persistentvolumes", sub: "", allowed: true },
    { verb: "update", resource: "persistentvolumes", sub: "", allowed: false },
    { verb: "create", resource: "events", sub: "", allowed: false },
    {
      verb: "update",
      resource: "leases.coordination.k8s.io/arraycopy-operator",
      inNamespace: true,
      sub: "",
      allowed: true,
    },
    {
      verb: "delete",
      resource: "leases.coordination.k8s.io/arraycopy-operator",
      inNamespace: true,
      sub: "",
      allowed: false,
    },
  ])("kubectl auth can-i $verb $resource $sub → $allowed", async ({ verb, resource, sub, inNamespace, allowed }) => {
    const res = await asOperator([
      "auth",
      "can-i",
      verb,
      resource,
      ...(sub === "" ? [] : [`--subresource=${sub}`]),
      ...(inNamespace === true ? ["-n", ns] : ["-A"]),
    ]);
    expect(res.stdout.trim()).toBe(allowed ? "yes" : "no");
  });

  // The HPE CSP's record of a PV's array volume (controllers/shared/handles.ts), read by name only. Asked as a
  // SelfSubjectAccessReview: kubectl auth can-i cannot name the group of a resource whose CRD is not installed.
  it.each([
    { verb: "get", allowed: true },
    { verb: "list", allowed: false },
    { verb: "patch", allowed: false },
  ])("may $verb hpevolumeinfos.storage.hpe.com → $allowed", async ({ verb, allowed }) => {
    const review = {
      apiVersion: "authorization.k8s.io/v1",
      kind: "SelfSubjectAccessReview",
      spec: { resourceAttributes: { group: "storage.hpe.com", resource: "hpevolumeinfos", verb, name: "pvc-x" } },
    };
    const res = await asOperator(["create", "--validate=false", "-o", "json", "-f", "-"], JSON.stringify(review));
    expect(res.code, res.stderr).toBe(0);
    expect((JSON.parse(res.stdout) as { status?: { allowed?: boolean } }).status?.allowed ?? false).toBe(allowed);
  });

  it("helm uninstall removes the release's objects but keeps the data volume", async () => {
    await op?.stop();
    op = undefined;
    helmOk(["uninstall", release, "-n", ns]);
    await eventually(() => {
      expect(getObject("clusterrole", undefined, fullname)).toBeUndefined();
      expect(getObject("copyclass", undefined, cls)).toBeUndefined();
      expect(getObject("mutatingadmissionpolicy", undefined, `${fullname}-finalizer`)).toBeUndefined();
      expect(getObject("deployment", ns, fullname)).toBeUndefined();
    });
    expect(getObject("persistentvolumeclaim", ns, `${fullname}-data`)).toBeDefined();
  });
});
