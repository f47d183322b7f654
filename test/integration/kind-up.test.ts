// hack/kind-up.sh for users with Docker: this project's machines have no container engine, so the script's plan is
// checked instead of run — `--dry-run` prints every command, and the helm command it would run is rendered here by
// the real helm against the real chart (values schema included), so a flag the chart does not know, or an image the
// nodes would try to pull, fails this test.
import { spawnSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { beforeAll, describe, expect, it } from "vitest";
import { ensureBinaries } from "../../hack/control-plane/binaries.ts";
import { repoRoot } from "../support/cluster.ts";

const script = join(repoRoot, "hack", "kind-up.sh");
let helmBin: string;

/** The commands `kind-up.sh --dry-run` prints, each split back into its words (bash re-reads its own quoting). */
function plan(env: Record<string, string> = {}, args: readonly string[] = ["--dry-run"]): string[][] {
  const res = spawnSync("bash", [script, ...args], { encoding: "utf8", env: { ...process.env, ...env } });
  expect(res.status, res.stderr).toBe(0);
  return res.stdout
    .trim()
    .split("\n")
    .map((line) => {
      const words = spawnSync("bash", ["-c", `for w in ${line}; do printf '%s\\0' "$w"; done`], { encoding: "utf8" });
      return words.stdout.split("\0").slice(0, -1);
    });
}

function find(cmds: string[][], ...prefix: string[]): string[] {
  const cmd = cmds.find((c) => prefix.every((p, i) => c[i] === p));
  if (cmd === undefined)
    throw new Error(`no "${prefix.join(" ")}" in the plan:\n${cmds.map((c) => c.join(" ")).join("\n")}`);
  return cmd;
}

beforeAll(() => {
  helmBin = join(ensureBinaries({ helm: true }), "helm");
}, 900_000);

describe("hack/kind-up.sh", () => {
  it("builds the repository's Dockerfile, loads that image into kind and installs the chart with it: no pull", () => {
    const cmds = plan({ IMAGE: "example.test/arraycopy:kind-1" });
    expect(find(cmds, "docker", "build")).toEqual([
      "docker",
      "build",
      "--file",
      join(repoRoot, "Dockerfile"),
      "--tag",
      "example.test/arraycopy:kind-1",
      repoRoot,
    ]);
    expect(find(cmds, "kind", "load", "docker-image")).toContain("example.test/arraycopy:kind-1");
    const install = find(cmds, "helm", "upgrade", "--install");
    // The same release, rendered: helm template takes the install's flags except the ones that talk to a cluster.
    const flags = install
      .slice(3)
      .filter(
        (w, i, all) => !["--wait", "--create-namespace"].includes(w) && all[i - 1] !== "--timeout" && w !== "--timeout",
      );
    const res = spawnSync(helmBin, ["template", ...flags], {
      encoding: "utf8",
      env: { ...process.env, HELM_CONFIG_HOME: mkdtempSync(join(tmpdir(), "arraycopy-helm-")) },
    });
    expect(res.status, res.stderr).toBe(0);
    const deployment = parseAllDocuments(res.stdout)
      .map(
        (d) =>
          d.toJSON() as {
            kind?: string;
            spec?: { template: { spec: { containers: { image: string; imagePullPolicy: string }[] } } };
          },
      )
      .find((o) => o.kind === "Deployment");
    expect(deployment?.spec?.template.spec.containers[0]).toMatchObject({
      image: "example.test/arraycopy:kind-1",
      imagePullPolicy: "Never",
    });
  });

  it("with Podman, saves the image to an archive and loads that", () => {
    const cmds = plan({ IMAGE_BUILDER: "podman" });
    expect(find(cmds, "podman", "build")).toContain(join(repoRoot, "Dockerfile"));
    const archive = find(cmds, "podman", "save").at(-2);
    expect(find(cmds, "kind", "load", "image-archive")).toContain(archive);
  });

  it("down deletes the cluster it names; an image without a tag or an unknown argument is refused", () => {
    expect(plan({ KIND_CLUSTER: "ac-other" }, ["down", "--dry-run"])).toEqual([
      ["kind", "delete", "cluster", "--name", "ac-other"],
    ]);
    const untagged = spawnSync("bash", [script, "--dry-run"], {
      encoding: "utf8",
      env: { ...process.env, IMAGE: "arraycopy" },
    });
    expect(untagged.status).toBe(2);
    expect(untagged.stderr).toContain("needs a tag");
    const unknown = spawnSync("bash", [script, "--dryrun"], { encoding: "utf8" });
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown argument");
  });
});
