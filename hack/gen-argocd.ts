// Renders deploy/argocd/argocd-cm.yaml: the Argo CD health check deploy/argocd/health.lua under one
// `resource.customizations.health.arraycopy.io_<Kind>` key per kind of the API, as a ConfigMap to merge into
// argocd-cm. Written and checked with the CRDs (hack/gen-crds.ts), so a new kind gets its key the day it is added;
// the script itself answers Unknown for a kind it has no rule for, and test/integration/argocd-health.test.ts
// fails until the kind has one and a tested state.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { stringify } from "yaml";
import { group } from "../operator/src/api/common.ts";
import { kinds } from "../operator/src/api/crds.ts";

export const argoCdDir = ["deploy", "argocd"];
export const healthScript = "health.lua";
export const argoCdConfigFile = "argocd-cm.yaml";

const header =
  "# Generated from deploy/argocd/health.lua by `npm run crds`. Do not edit.\n" +
  '# Argo CD health checks for every arraycopy.io kind; merge into argocd-cm (docs/install.md, "Argo CD"):\n' +
  "#   kubectl -n argocd patch configmap argocd-cm --type merge --patch-file deploy/argocd/argocd-cm.yaml\n";

export const healthKey = (kind: string): string => `resource.customizations.health.${group}_${kind}`;

export function renderArgoCdConfig(root: string): string {
  const script = readFileSync(join(root, ...argoCdDir, healthScript), "utf8");
  const data = Object.fromEntries(kinds.map((k) => [healthKey(k.kind), script]));
  const cm = {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: "argocd-cm",
      namespace: "argocd",
      labels: { "app.kubernetes.io/name": "argocd-cm", "app.kubernetes.io/part-of": "argocd" },
    },
    data,
  };
  return header + stringify(cm, { lineWidth: 0, blockQuote: "literal" });
}
