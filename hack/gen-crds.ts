// Writes crds/<plural>.arraycopy.io.yaml from the zod schemas (`npm run crds`), or with --check fails when the
// committed files differ from what the schemas generate (`npm run crds:check`, part of `npm test`). The Helm chart
// ships the same files in charts/arraycopy/crds/ (helm installs that directory before the templates), written and
// checked here too so the chart can never install an older API than the operator speaks. deploy/argocd/argocd-cm.yaml
// (Argo CD's health checks, one key per kind: hack/gen-argocd.ts) is written and checked with them, and so is
// deploy/admission/finalizer-policy.yaml (the copy finalizer put on at create by the API server; the chart's
// templates/finalizer-policy.yaml is its templated twin, compared with it by test/integration/chart.test.ts).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { crds } from "../operator/src/api/crds.ts";
import { finalizerPolicy } from "../operator/src/controllers/shared/finalizer-policy.ts";
import { argoCdConfigFile, argoCdDir, renderArgoCdConfig } from "./gen-argocd.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dirs = [join(root, "crds"), join(root, "charts", "arraycopy", "crds")];
const header = "# Generated from operator/src/api by `npm run crds`. Do not edit.\n";

export function renderCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const crd of crds()) {
    const name = (crd.metadata as { name: string }).name;
    files.set(`${name}.yaml`, header + stringify(crd, { lineWidth: 0 }));
  }
  return files;
}

/** Brings one directory in line with `want`, or with `check` only reports the files that differ. */
function sync(dir: string, want: Map<string, string>, check: boolean): string[] {
  const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];
  if (check) {
    const stale = [...want]
      .filter(([f, text]) => !existsSync(join(dir, f)) || readFileSync(join(dir, f), "utf8") !== text)
      .map(([f]) => f);
    return [...stale, ...have.filter((f) => !want.has(f))].map((f) => relative(root, join(dir, f)));
  }
  mkdirSync(dir, { recursive: true });
  for (const f of have) if (!want.has(f)) rmSync(join(dir, f));
  for (const [f, text] of want) writeFileSync(join(dir, f), text);
  return [];
}

/** The Argo CD ConfigMap: one file in a directory that also holds its source, so it is compared alone. */
function syncArgoCd(check: boolean): string[] {
  const file = join(root, ...argoCdDir, argoCdConfigFile);
  const text = renderArgoCdConfig(root);
  if (!check) writeFileSync(file, text);
  return check && (!existsSync(file) || readFileSync(file, "utf8") !== text) ? [relative(root, file)] : [];
}

export const finalizerPolicyFile = join(root, "deploy", "admission", "finalizer-policy.yaml");

/** The finalizer policy and its binding, for kubectl apply on clusters installed without the chart. */
function syncFinalizerPolicy(check: boolean): string[] {
  const text =
    "# Generated from operator/src/controllers/shared/finalizer-policy.ts by `npm run crds`. Do not edit.\n" +
    finalizerPolicy()
      .map((o) => stringify(o, { lineWidth: 0 }))
      .join("---\n");
  if (!check) {
    mkdirSync(dirname(finalizerPolicyFile), { recursive: true });
    writeFileSync(finalizerPolicyFile, text);
  }
  const stale = check && (!existsSync(finalizerPolicyFile) || readFileSync(finalizerPolicyFile, "utf8") !== text);
  return stale ? [relative(root, finalizerPolicyFile)] : [];
}

function main(check: boolean): number {
  const want = renderCrds();
  const drifted = [...dirs.flatMap((d) => sync(d, want, check)), ...syncArgoCd(check), ...syncFinalizerPolicy(check)];
  if (check) {
    if (drifted.length === 0) return 0;
    console.error(
      `CRDs are out of date with operator/src/api (${drifted.join(", ")}): run \`npm run crds\` and commit`,
    );
    return 1;
  }
  console.log(
    `wrote ${want.size} CRDs to ${dirs.map((d) => relative(root, d)).join(" and ")}, ` +
      `${relative(root, join(root, ...argoCdDir, argoCdConfigFile))} and ${relative(root, finalizerPolicyFile)}`,
  );
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.includes("--check"));
