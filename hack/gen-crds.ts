// Writes crds/<plural>.arraycopy.io.yaml from the zod schemas (`npm run crds`), or with --check fails when the
// committed files differ from what the schemas generate (`npm run crds:check`, part of `npm test`).
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import { crds } from "../operator/src/api/crds.ts";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const dir = join(root, "crds");
const header = "# Generated from operator/src/api by `npm run crds`. Do not edit.\n";

export function renderCrds(): Map<string, string> {
  const files = new Map<string, string>();
  for (const crd of crds()) {
    const name = (crd.metadata as { name: string }).name;
    files.set(`${name}.yaml`, header + stringify(crd, { lineWidth: 0 }));
  }
  return files;
}

function main(check: boolean): number {
  const want = renderCrds();
  const have = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith(".yaml")) : [];
  if (check) {
    const stale = [...want].filter(([f, text]) => !existsSync(join(dir, f)) || readFileSync(join(dir, f), "utf8") !== text).map(([f]) => f);
    const extra = have.filter((f) => !want.has(f));
    if (stale.length + extra.length === 0) return 0;
    console.error(`crds/ is out of date with operator/src/api (${[...stale, ...extra].join(", ")}): run \`npm run crds\` and commit`);
    return 1;
  }
  mkdirSync(dir, { recursive: true });
  for (const f of have) if (!want.has(f)) rmSync(join(dir, f));
  for (const [f, text] of want) writeFileSync(join(dir, f), text);
  console.log(`wrote ${want.size} CRDs to crds/`);
  return 0;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) process.exitCode = main(process.argv.includes("--check"));
