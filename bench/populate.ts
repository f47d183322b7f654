// Benchmark of the populator's data path (not a test): a virtual copy of the embedded engine offered over HTTPS by
// this process, written into a fresh loop device by the populator's own command in a child process (as the populator
// pod runs it), against `dd bs=1M conv=fsync` of the same bytes from a file in the page cache into a loop device of
// the same size: the device's limit. Medians of several runs. `npm run bench:populate [-- --quick]` (root: loop
// devices).
import { execFile, execFileSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, open, rm, truncate, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openEmbeddedEngine } from "../operator/src/engine/embedded/engine.ts";
import { selfSignedCert } from "../operator/src/kube/self-signed.ts";
import { PopulationGrants, startPopulationServer } from "../operator/src/populator/source.ts";
import { writeResults } from "./results.ts";

const run = promisify(execFile);
const MiB = 1024 ** 2;
const quick = process.argv.includes("--quick");
/** `--chunk-mib N` and `--concurrency N`: the manifest's chunk size and the populator's requests in flight. */
const flag = (name: string): number | undefined => {
  const i = process.argv.indexOf(name);
  return i < 0 ? undefined : Number(process.argv[i + 1]);
};
const chunkMiB = flag("--chunk-mib");
const concurrency = flag("--concurrency");
const runs = quick ? 3 : 5;
const sizeBytes = (quick ? 128 : 512) * MiB;
/** The share of the volume that holds data; the rest was never written (a hole), as in most real volumes. */
const dataShare = 0.75;

if (process.getuid?.() !== 0) {
  console.error("bench:populate needs root: it writes into loop devices (losetup)");
  process.exit(1);
}

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] ?? 0) : ((s[mid - 1] ?? 0) + (s[mid] ?? 0)) / 2;
}

const dir = await mkdtemp(join(tmpdir(), "arraycopy-bench-populate-"));
const engine = await openEmbeddedEngine({ dataDir: join(dir, "engine"), expiryIntervalMs: 0 });
const loops: string[] = [];
try {
  await engine.createVolume("base", sizeBytes);
  const data = Math.floor((sizeBytes * dataShare) / MiB) * MiB;
  const chunk = randomBytes(16 * MiB);
  for (let at = 0; at < data; at += chunk.length) {
    chunk.writeUInt32LE(at / MiB, 0);
    await engine.writeVolume("base", at, chunk.subarray(0, Math.min(chunk.length, data - at)));
  }
  await engine.createVirtualCopy({
    name: "snap",
    source: "base",
    readOnly: true,
    owner: { namespace: "b", name: "b", uid: "b" },
  });
  // The same bytes as a plain file, for dd.
  const raw = join(dir, "raw.img");
  await writeFile(raw, "");
  await truncate(raw, sizeBytes);
  const fh = await open(raw, "r+");
  for (let at = 0; at < data; at += 16 * MiB) {
    const bytes = await engine.readVolume("snap", at, Math.min(16 * MiB, data - at));
    await fh.write(bytes, 0, bytes.length, at);
  }
  await fh.close();

  const grants = new PopulationGrants();
  const token = randomBytes(32).toString("base64url");
  const source = { sizeBytes, read: (o: number, l: number) => engine.readVolume("snap", o, l) };
  grants.grant(token, "bench/populate", source, chunkMiB === undefined ? undefined : chunkMiB * MiB);
  const identity = selfSignedCert(["127.0.0.1"]);
  const { server, port } = await startPopulationServer(0, grants, identity, "127.0.0.1");
  const tokenFile = join(dir, "token");
  await writeFile(tokenFile, token);
  const caFile = join(dir, "ca.crt");
  await writeFile(caFile, identity.cert);

  const freshLoop = async (name: string): Promise<string> => {
    const image = join(dir, name);
    await rm(image, { force: true });
    await writeFile(image, "");
    await truncate(image, sizeBytes);
    const dev = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
    loops.push(dev);
    return dev;
  };
  const detach = (dev: string): void => {
    execFileSync("losetup", ["-d", dev]);
    loops.splice(loops.indexOf(dev), 1);
  };
  const seconds = async (f: () => Promise<unknown>): Promise<number> => {
    const t = performance.now();
    await f();
    return (performance.now() - t) / 1000;
  };
  const cli = join(import.meta.dirname, "..", "operator", "src", "populator", "cli.ts");
  const populateInto = (dev: string) =>
    run(process.execPath, [
      ...[cli, "--source", `https://127.0.0.1:${port}`, "--token-file", tokenFile, "--ca-file", caFile],
      ...["--target", dev],
      ...(concurrency === undefined ? [] : ["--concurrency", String(concurrency)]),
    ]);

  const dd: number[] = [];
  const fresh: number[] = [];
  const again: number[] = [];
  execFileSync("cat", [raw], { stdio: ["ignore", "ignore", "inherit"] }); // the file in the page cache
  for (let i = 0; i < runs; i++) {
    const a = await freshLoop("dd.img");
    dd.push(await seconds(() => run("dd", [`if=${raw}`, `of=${a}`, "bs=1M", "conv=fsync", "status=none"])));
    detach(a);
    const b = await freshLoop("populate.img");
    fresh.push(await seconds(() => populateInto(b)));
    again.push(await seconds(() => populateInto(b)));
    detach(b);
  }
  server.close();
  const mib = sizeBytes / MiB;
  const row = (what: string, s: number, base: number): string => {
    const rate = `${(mib / s).toFixed(0).padStart(6)} MiB/s`;
    return `${what.padEnd(58)} ${s.toFixed(2).padStart(7)} s ${rate}  ${(base / s).toFixed(2)}× dd`;
  };
  const base = median(dd);
  console.log(
    `populate: ${mib} MiB copy (${Math.round(dataShare * 100)}% data, the rest a hole), median of ${runs} runs`,
  );
  console.log(row("dd bs=1M conv=fsync, page-cached file → fresh loop device", base, base));
  console.log(row("populate (child process over HTTPS) → fresh loop device", median(fresh), base));
  console.log(row("populate again → the same device (every chunk confirmed)", median(again), base));
  const figure = (xs: readonly number[]) => ({
    seconds: median(xs),
    mibPerSecond: mib / median(xs),
    vsDd: base / median(xs),
  });
  const file = writeResults("populate", {
    runs,
    quick,
    sizeMiB: mib,
    chunkMiB: chunkMiB ?? 1,
    concurrency: concurrency ?? "default",
    dataShare,
    dd: figure(dd),
    populateFresh: figure(fresh),
    populateAgain: figure(again),
  });
  console.log(`\nfigures written to ${file}`);
} finally {
  for (const dev of loops) execFileSync("losetup", ["-d", dev]);
  await engine.close();
  await rm(dir, { recursive: true, force: true });
}
