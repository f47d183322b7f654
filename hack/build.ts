// `npm run build`: the operator as the image runs it, bundled by esbuild from operator/src into dist/ with its
// dependencies, so the image needs no node_modules. Three scripts, each self-contained:
//   dist/main.js              the operator (the chart's and the Dockerfile's command)
//   dist/mover-thread.js      the embedded engine's data-mover thread, beside main.js where mover.ts looks for it
//   dist/populator/cli.js     the populator pod's command (controllers/populator/objects.ts)
// Whitespace and syntax are minified, names are not (keepNames, below): stack traces keep our function names.
// V8 keeps each loaded script's source in the heap, and client-node's generated sources are most of what the
// operator loads: bundled this way the operator starts with about 20 MiB less RSS than from tsc's per-file output
// (docs/benchmarks.md).
// Type checking is `npm run typecheck`; esbuild only strips the types.
import { rmSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { build } from "esbuild";

const root = join(import.meta.dirname, "..");
export const distDir = join(root, "dist");
const src = join(root, "operator", "src");

const entries: Readonly<Record<string, string>> = {
  main: join(src, "main.ts"),
  "mover-thread": join(src, "engine", "embedded", "mover-thread.ts"),
  "populator/cli": join(src, "populator", "cli.ts"),
};

/** Builds `outDir` (default dist/) afresh; returns the scripts written with their sizes in bytes. */
export async function buildDist(outDir = distDir): Promise<Map<string, number>> {
  rmSync(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: entries,
    outdir: outDir,
    bundle: true,
    platform: "node",
    format: "esm",
    target: "node24",
    minifyWhitespace: true,
    minifySyntax: true,
    // A bundle renames a class whose name another module also binds (client-node's V1Secret became _V1Secret), and
    // code reads constructors' names: kube/models.ts asks client-node's serializer for the type by its name, and
    // pino logs an error's class. Keep every function's and class's own name.
    keepNames: true,
    // The CommonJS packages inside (client-node, pino, …) call require() for Node's own modules: an ES module has
    // none, so each script makes one first.
    banner: {
      js:
        'import { createRequire as __createRequire } from "node:module";' +
        "const require = __createRequire(import.meta.url);",
    },
    logLevel: "warning",
  });
  if (result.errors.length > 0) throw new Error(`esbuild: ${result.errors.map((e) => e.text).join("; ")}`);
  const sizes = new Map<string, number>();
  for (const name of Object.keys(entries)) {
    const file = join(outDir, `${name}.js`);
    sizes.set(relative(root, file), statSync(file).size);
  }
  return sizes;
}

if (import.meta.main) {
  const started = Date.now();
  const sizes = await buildDist();
  for (const [file, bytes] of sizes) console.log(`${file}  ${(bytes / 1024).toFixed(0)} KiB`);
  console.log(`built in ${String(Date.now() - started)} ms`);
}
