// The API on a real kube-apiserver: the generated CRDs install and are served, every example is accepted, every
// invalid object of the corpus is refused with a message naming the field, `kubectl explain` shows the field
// descriptions and `kubectl get` the printer columns and the `arraycopy` category.
import { readdirSync } from "node:fs";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { invalidCases, type InvalidCase } from "../support/invalid-corpus.ts";
import { freshNamespace, installCrds, kubectl, kubectlOk, repoRoot } from "../support/cluster.ts";

let ns = "";
beforeAll(() => {
  installCrds();
  ns = freshNamespace("api");
});

const manifest = (c: InvalidCase, name: string, spec: Record<string, unknown>) =>
  stringify({
    apiVersion: "arraycopy.io/v1alpha1",
    kind: c.kind,
    metadata: c.kind === "CopyClass" ? { name } : { name: c.metadataName ?? name, namespace: ns },
    spec,
  });

describe("CRDs", () => {
  it("are Established and listed by discovery under the arraycopy category", () => {
    const resources = kubectlOk(["api-resources", "--api-group=arraycopy.io", "-o", "wide"]);
    const plurals = [
      "copyclasses",
      "virtualcopies",
      "virtualcopygroups",
      "physicalcopies",
      "copyjobs",
      "copyschedules",
    ];
    for (const r of plurals) expect(resources).toContain(r);
    expect(resources).toContain("arraycopy");
    const established = kubectlOk([
      "get",
      "crd",
      "-l",
      "app.kubernetes.io/part-of=arraycopy",
      "-o",
      'jsonpath={range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Established")].status} {end}',
    ]);
    expect(established.trim().split(" ").sort()).toEqual([
      "copyclasses.arraycopy.io=True",
      "copyjobs.arraycopy.io=True",
      "copyschedules.arraycopy.io=True",
      "physicalcopies.arraycopy.io=True",
      "virtualcopies.arraycopy.io=True",
      "virtualcopygroups.arraycopy.io=True",
    ]);
  });
});

describe("examples", () => {
  const dirs = ["", "wsapi", "node"].map((d) => join(repoRoot, "examples", d));
  const files = dirs.flatMap((d) =>
    readdirSync(d)
      .filter((f) => f.endsWith(".yaml"))
      .map((f) => join(d, f)),
  );
  beforeAll(() => {
    kubectlOk(["apply", "-f", "-"], {
      input: stringify({ apiVersion: "v1", kind: "Namespace", metadata: { name: "arraycopy-system" } }),
    });
  });
  it.each(files)("%s passes kubectl apply --dry-run=server", (file) => {
    const res = kubectl(["apply", "--dry-run=server", "-f", file]);
    expect(res.stderr).toBe("");
    expect(res.code).toBe(0);
  });
});

describe("invalid objects are refused, naming the field", () => {
  it("has at least 15 cases", () => {
    expect(invalidCases.length).toBeGreaterThanOrEqual(15);
  });

  it.each(invalidCases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const name = `bad-${Math.random().toString(36).slice(2, 8)}`;
    if (c.update !== undefined) {
      kubectlOk(["create", "-f", "-"], { input: manifest(c, name, c.spec) });
    }
    const res =
      c.update === undefined
        ? kubectl(["create", "-f", "-"], { input: manifest(c, name, c.spec) })
        : kubectl(["replace", "-f", "-"], { input: manifest(c, name, c.update) });
    expect(res.code, `${c.why}: the apiserver accepted it`).not.toBe(0);
    expect(res.stderr).toContain(c.field);
    if (c.message !== undefined) expect(res.stderr).toContain(c.message);
    if (c.kind === "CopyClass" && c.update !== undefined) kubectl(["delete", "copyclass", name, "--wait=false"]);
  });
});

describe("kubectl", () => {
  it("explain shows the field descriptions", () => {
    expect(kubectlOk(["explain", "virtualcopy"])).toContain("copy-on-write snapshot");
    const out = kubectlOk(["explain", "virtualcopy.spec"]);
    expect(out).toMatch(/retentionHours\s+<integer>/);
    expect(out).toContain("never lowered");
    const job = kubectlOk(["explain", "copyjob.status.jobState"]);
    expect(job).toContain("CIM JobState");
  });

  it("get shows SyncState, CopyType, progress, Ready and Age, and the category lists every kind", () => {
    const vc = {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "VirtualCopy",
      metadata: { name: "cols", namespace: ns },
      spec: { source: { volumeName: "db-data" } },
    };
    kubectlOk(["create", "-f", "-"], { input: stringify(vc) });
    const status = {
      syncState: "Idle",
      copyType: "UnSyncAssoc",
      replicaType: "AfterDelta",
      conditions: [
        {
          type: "Ready",
          status: "True",
          reason: "Idle",
          message: "ready",
          lastTransitionTime: new Date().toISOString().replace(/\.\d+Z$/, "Z"),
        },
      ],
    };
    kubectlOk([
      "patch",
      "virtualcopy",
      "cols",
      "-n",
      ns,
      "--subresource=status",
      "--type=merge",
      "-p",
      JSON.stringify({ status }),
    ]);
    const out = kubectlOk(["get", "virtualcopy", "cols", "-n", ns]);
    const [header, row] = out.trim().split("\n");
    expect(header?.split(/\s+/)).toEqual(["NAME", "SOURCEPVC", "SYNCSTATE", "COPYTYPE", "READY", "AGE"]);
    expect(row).toMatch(/^cols\s+Idle\s+UnSyncAssoc\s+True\s+\d+s$/);
    const pc = {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "PhysicalCopy",
      metadata: { name: "cols", namespace: ns },
      spec: { source: { volumeName: "db-data" }, target: { volumeName: "db-test" } },
    };
    const job = {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "CopyJob",
      metadata: { name: "cols", namespace: ns },
      spec: { copyRef: { kind: "PhysicalCopy", name: "cols" }, operation: "Resync" },
    };
    kubectlOk(["create", "-f", "-"], { input: `${stringify(pc)}---\n${stringify(job)}` });
    const headerOf = (kind: string) => kubectlOk(["get", kind, "-n", ns]).split("\n")[0]?.split(/\s+/);
    expect(headerOf("physicalcopies")).toEqual([
      "NAME",
      "SOURCEPVC",
      "TARGET",
      "SYNCSTATE",
      "COPYTYPE",
      "PROGRESS",
      "READY",
      "AGE",
    ]);
    expect(headerOf("copyjobs")).toEqual(["NAME", "OPERATION", "COPY", "JOBSTATE", "PROGRESS", "SUCCEEDED", "AGE"]);
    const all = kubectlOk(["get", "arraycopy", "-n", ns, "-o", "name"]);
    expect(all).toContain("virtualcopy.arraycopy.io/cols");
    expect(all).toContain("physicalcopy.arraycopy.io/cols");
    expect(all).toContain("copyjob.arraycopy.io/cols");
    const byShortName = kubectlOk(["get", "vcopy", "-n", ns, "-o", "name"]);
    expect(byShortName.split("\n")).toContain("virtualcopy.arraycopy.io/cols");
  });

  it("status is a subresource: a spec write does not change it", () => {
    const patched = kubectlOk([
      "patch",
      "virtualcopy",
      "cols",
      "-n",
      ns,
      "--type=merge",
      "-p",
      JSON.stringify({ status: { syncState: "Broken" } }),
      "-o",
      "jsonpath={.status.syncState}",
    ]);
    expect(patched).toBe("Idle");
  });

  it("an unprivileged user is refused by RBAC", () => {
    const res = kubectl(["get", "virtualcopies", "-n", ns], { user: "alice" });
    expect(res.code).not.toBe(0);
    expect(res.stderr).toContain("forbidden");
  });
});
