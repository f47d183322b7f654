// The populator's data path end to end on this machine: the embedded engine's virtual copy offered over HTTPS, a
// file or a loop device written by populate(). The copy's point in time arrives, not the volume's present; a
// second run moves nothing; an interrupted run resumes; a source that goes away and comes back is waited for; a
// server that does not hold the pinned certificate (another process at the same address) gets nothing and writes
// nothing.
import { execFile, execFileSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer as createHttpServer } from "node:http";
import type { Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine, type EmbeddedEngine } from "../engine/embedded/engine.ts";
import { certFingerprint, selfSignedCert, type SelfSigned } from "../kube/self-signed.ts";
import { etagOf, manifestFor, VolumeDigest } from "./protocol.ts";
import { populate, PopulateError } from "./sink.ts";
import { PopulationGrants, startPopulationServer, type GrantSource } from "./source.ts";

const MiB = 1024 * 1024;
const chunk = 256 * 1024;

/** Deterministic bytes: a seeded stream, different for every seed. */
function pattern(seed: number, length: number): Buffer {
  const out = Buffer.alloc(length);
  let block = createHash("sha256").update(`seed-${seed}`).digest();
  for (let at = 0; at < length; at += block.length) {
    block.copy(out, at);
    block = createHash("sha256").update(block).digest();
  }
  return out;
}

/** The digest populate() must report for `bytes` (what the source's chunks hash to). */
function digestOf(bytes: Buffer): string {
  const m = manifestFor(bytes.length, chunk);
  const d = new VolumeDigest(m.chunks);
  for (let i = 0; i < m.chunks; i++)
    d.set(i, etagOf(bytes.subarray(i * chunk, Math.min(bytes.length, (i + 1) * chunk))));
  return d.digest();
}

let dir: string;
let engine: EmbeddedEngine;
let grants: PopulationGrants;
let server: Server | undefined;
let port = 0;
/** HTTP requests the source received (a refused handshake never gets that far: no token is sent). */
let requests = 0;
const token = randomBytes(32).toString("base64url");
/** The source's certificate, as the operator makes it at start; the writer pins it. */
const identity = selfSignedCert(["127.0.0.1"]);
const ca = identity.cert;

async function serve(served: SelfSigned = identity): Promise<void> {
  const started = await startPopulationServer(port, grants, served, "127.0.0.1");
  server = started.server;
  port = started.port;
  server.on("request", () => {
    requests++;
  });
}

async function stopServing(): Promise<void> {
  const s = server;
  server = undefined;
  if (s === undefined) return;
  s.closeAllConnections();
  await new Promise<void>((resolve) => {
    s.close(() => {
      resolve();
    });
  });
}

function copySource(name: string, sizeBytes: number): GrantSource {
  return { sizeBytes, read: (offset, length) => engine.readVolume(name, offset, length) };
}

/**
 * A 4 MiB volume: its first 3 MiB written with seed 1, its last MiB never written (a hole). A virtual copy is taken,
 * then the volume's first MiB is overwritten: the copy keeps the point in time.
 */
async function volumeAndCopy(): Promise<Buffer> {
  await engine.createVolume("base", 4 * MiB);
  const then = Buffer.concat([pattern(1, 3 * MiB), Buffer.alloc(MiB)]);
  await engine.writeVolume("base", 0, then.subarray(0, 3 * MiB));
  await engine.createVirtualCopy({
    name: "snap",
    source: "base",
    readOnly: true,
    owner: { namespace: "ns", name: "snap", uid: "uid-1" },
  });
  await engine.writeVolume("base", 0, pattern(2, MiB));
  grants.grant(token, "ns/restored", copySource("snap", 4 * MiB), chunk);
  return then;
}

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "arraycopy-populate-"));
  engine = await openEmbeddedEngine({ dataDir: join(dir, "engine"), expiryIntervalMs: 0 });
  grants = new PopulationGrants();
  port = 0;
  requests = 0;
  await serve();
});

afterEach(async () => {
  await stopServing();
  await engine.close();
  await rm(dir, { recursive: true, force: true });
});

const source = (): string => `https://127.0.0.1:${port}`;

// Each case moves a few MiB through TLS in a few seconds; on two shared cores under load, some took 5 s.
describe("populate", { timeout: 15_000 }, () => {
  it("writes the copy's point in time into a fresh file, sending only chunks that are not zeros", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "");
    const r = await populate({ source: source(), ca, token, target });
    expect(await readFile(target)).toEqual(then);
    expect(r).toMatchObject({ chunks: 16, sent: 12, matched: 4, zeroed: 0, bytesWritten: 3 * MiB });
    expect(r.digest).toBe(digestOf(then));
    // The manifest and the 16 chunks, over TLS (what the refusals below never get to).
    expect(requests).toBe(17);
    // The fresh file was extended sparse, and the hole was never written: it stays a hole.
    expect((await stat(target)).blocks * 512).toBeLessThanOrEqual(3 * MiB + 64 * 1024);
  });

  it("run again, moves nothing: every chunk is confirmed by its hash", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "");
    await populate({ source: source(), ca, token, target });
    const again = await populate({ source: source(), ca, token, target });
    expect(again).toMatchObject({ sent: 0, matched: 16, bytesWritten: 0, digest: digestOf(then) });
  });

  it("resumes an interrupted run: what was written is not sent again", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "");
    const stop = new AbortController();
    const first = populate({
      source: source(),
      ca,
      token,
      target,
      concurrency: 1,
      signal: stop.signal,
      onProgress: (p) => {
        if (p.sent === 5) stop.abort();
      },
    });
    await expect(first).rejects.toThrow();
    const resumed = await populate({ source: source(), ca, token, target, concurrency: 1 });
    expect(await readFile(target)).toEqual(then);
    expect(resumed.sent).toBe(12 - 5);
    expect(resumed.matched).toBe(4 + 5);
  });

  it("overwrites what differs, zeros included, without sending the zeros", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, pattern(9, 4 * MiB));
    const r = await populate({ source: source(), ca, token, target });
    expect(await readFile(target)).toEqual(then);
    expect(r).toMatchObject({ sent: 12, zeroed: 4, matched: 0, bytesWritten: 4 * MiB });
  });

  it("waits for a source that goes away in the middle and comes back with its certificate, and finishes", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "");
    let restarted: Promise<void> | undefined;
    const r = await populate({
      source: source(),
      ca,
      token,
      target,
      concurrency: 2,
      onProgress: (p) => {
        if (p.sent === 3 && restarted === undefined) {
          // The listener goes and its grants with it; it comes back with the same certificate and grants the same
          // token again (a new process would hold a new certificate: the next cases show it refused).
          restarted = (async () => {
            await stopServing();
            grants = new PopulationGrants();
            await new Promise((res) => setTimeout(res, 400));
            grants.grant(token, "ns/restored", copySource("snap", 4 * MiB), chunk);
            await serve();
          })();
        }
      },
    });
    await restarted;
    expect(await readFile(target)).toEqual(then);
    expect(r.digest).toBe(digestOf(then));
    expect(r.sent + r.matched).toBe(16);
    // Waiting is the point: backoff doubles from 0.2 s, and new TLS connections are made after the restart.
  }, 20_000);

  it("refuses a token the source does not know, as final, and writes nothing", async () => {
    await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "untouched");
    const e = await populate({ source: source(), ca, token: "not-the-token", target }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PopulateError);
    expect(e).toMatchObject({ final: true });
    expect((e as Error).message).toContain("token");
    expect(await readFile(target, "utf8")).toBe("untouched");
  });

  it("pins a certificate for an IPv6 address (a pod network of IPv6)", async () => {
    const then = await volumeAndCopy();
    const six = selfSignedCert(["::1"]);
    const served = await startPopulationServer(0, grants, six, "::1");
    try {
      const target = join(dir, "target.img");
      await writeFile(target, "");
      await populate({ source: `https://[::1]:${served.port}`, ca: six.cert, token, target });
      expect(await readFile(target)).toEqual(then);
    } finally {
      served.server.closeAllConnections();
      served.server.close();
    }
  });

  it("refuses a server at the same address with another certificate: nothing is asked, nothing written", async () => {
    await volumeAndCopy();
    // Another process at the source's address (an operator restarted since, an impostor), with a self-signed
    // certificate for the same address, and the population granted: only the certificate differs.
    await stopServing();
    await serve(selfSignedCert(["127.0.0.1"]));
    const target = join(dir, "target.img");
    await writeFile(target, "untouched");
    const e = await populate({ source: source(), ca, token, target }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(PopulateError);
    expect(e).toMatchObject({ final: true });
    const message = (e as Error).message;
    expect(message).toMatch(/^the source https:\/\/127\.0\.0\.1:\d+ is not the server this population was given: /);
    expect(message).toContain(`it does not hold the pinned certificate (${certFingerprint(ca)}) for that address`);
    expect(message).toContain("DEPTH_ZERO_SELF_SIGNED_CERT");
    expect(requests).toBe(0);
    expect(await readFile(target, "utf8")).toBe("untouched");
  });

  it("refuses the pinned certificate itself at an address it does not name", async () => {
    await volumeAndCopy();
    await stopServing();
    const elsewhere = selfSignedCert(["10.0.0.9"]);
    await serve(elsewhere);
    const target = join(dir, "target.img");
    await writeFile(target, "untouched");
    const e = await populate({ source: source(), ca: elsewhere.cert, token, target }).catch((x: unknown) => x);
    expect(e).toMatchObject({ final: true });
    expect((e as Error).message).toContain("ERR_TLS_CERT_ALTNAME_INVALID");
    expect(requests).toBe(0);
    expect(await readFile(target, "utf8")).toBe("untouched");
  });

  it("refuses plain HTTP: an http:// source, and a server that does not speak TLS", async () => {
    await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "untouched");
    const http = await populate({ source: `http://127.0.0.1:${port}`, ca, token, target }).catch((x: unknown) => x);
    expect(http).toMatchObject({ final: true, message: expect.stringContaining("is not an https:// URL") as string });
    const plain = createHttpServer((_req, res) => res.end("hello"));
    await new Promise<void>((resolve) => plain.listen(0, "127.0.0.1", resolve));
    try {
      const at = `https://127.0.0.1:${(plain.address() as AddressInfo).port}`;
      const e = await populate({ source: at, ca, token, target, unreachableMs: 5_000 }).catch((x: unknown) => x);
      expect(e).toMatchObject({ final: true, message: expect.stringContaining("does not speak TLS") as string });
    } finally {
      plain.close();
    }
    expect(await readFile(target, "utf8")).toBe("untouched");
  });

  it("refuses a pinned certificate that is not one", async () => {
    await volumeAndCopy();
    const target = join(dir, "target.img");
    await writeFile(target, "untouched");
    const e = await populate({ source: source(), ca: "not a certificate", token, target }).catch((x: unknown) => x);
    expect(e).toMatchObject({ final: true, message: expect.stringContaining("not a PEM certificate") as string });
    expect(requests).toBe(0);
  });

  it("gives up on a source that stays unreachable, saying for how long", async () => {
    await volumeAndCopy();
    await stopServing();
    const target = join(dir, "target.img");
    await writeFile(target, "");
    await expect(populate({ source: source(), ca, token, target, unreachableMs: 600 })).rejects.toThrow(
      /unreachable for 1 s/,
    );
  });

  describe.runIf(process.getuid?.() === 0)("into a loop device (root)", () => {
    let loop: string | undefined;
    afterEach(() => {
      if (loop !== undefined) execFileSync("losetup", ["-d", loop]);
      loop = undefined;
    });

    it("fills a block device with the copy, byte for byte", async () => {
      const then = await volumeAndCopy();
      const image = join(dir, "device.img");
      await writeFile(image, pattern(7, 4 * MiB));
      loop = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
      const r = await populate({ source: source(), ca, token, target: loop });
      expect(r.digest).toBe(digestOf(then));
      expect((await readFile(loop)).subarray(0, 4 * MiB)).toEqual(then);
    });

    it("refuses a block device smaller than the copy", async () => {
      await volumeAndCopy();
      const image = join(dir, "small.img");
      await writeFile(image, Buffer.alloc(2 * MiB));
      loop = execFileSync("losetup", ["--find", "--show", image], { encoding: "utf8" }).trim();
      const e = await populate({ source: source(), ca, token, target: loop }).catch((x: unknown) => x);
      expect(e).toMatchObject({ final: true });
      expect((e as Error).message).toContain("smaller than the copy");
    });
  });
});

describe("populator/cli.js (the populator pod's command)", { timeout: 15_000 }, () => {
  const cli = join(dirname(fileURLToPath(import.meta.url)), "cli.ts");
  const run = (args: readonly string[]): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile(process.execPath, [cli, ...args], (err, stdout, stderr) => {
        resolve({ code: err === null ? 0 : Number(err.code ?? 1), stdout, stderr });
      });
    });

  it("populates, prints its figures as a JSON line and exits 0", async () => {
    const then = await volumeAndCopy();
    const target = join(dir, "target.img");
    const tokenFile = join(dir, "token");
    await writeFile(target, "");
    await writeFile(tokenFile, `${token}\n`);
    const caFile = join(dir, "ca.crt");
    await writeFile(caFile, ca);
    const r = await run(["--source", source(), "--token-file", tokenFile, "--ca-file", caFile, "--target", target]);
    expect(r.code).toBe(0);
    const last = JSON.parse(r.stdout.trim().split("\n").at(-1) ?? "{}") as Record<string, unknown>;
    expect(last).toMatchObject({ msg: "Populated", sent: 12, digest: digestOf(then) });
    expect(await readFile(target)).toEqual(then);
  });

  it("a refused token exits 2 and leaves the reason in the termination message", async () => {
    await volumeAndCopy();
    const target = join(dir, "target.img");
    const tokenFile = join(dir, "token");
    const termination = join(dir, "termination-log");
    await writeFile(target, "");
    await writeFile(tokenFile, "wrong");
    await writeFile(join(dir, "ca.crt"), ca);
    const r = await run([
      "--source",
      source(),
      "--token-file",
      tokenFile,
      "--ca-file",
      join(dir, "ca.crt"),
      "--target",
      target,
      "--termination-log",
      termination,
    ]);
    expect(r.code).toBe(2);
    expect(await readFile(termination, "utf8")).toContain("does not know this population's token");
  });

  it("a server without the pinned certificate exits 2, saying so in the termination message", async () => {
    await volumeAndCopy();
    await stopServing();
    await serve(selfSignedCert(["127.0.0.1"]));
    const target = join(dir, "target.img");
    const termination = join(dir, "termination-log");
    await writeFile(target, "untouched");
    await writeFile(join(dir, "token"), token);
    await writeFile(join(dir, "ca.crt"), ca);
    const r = await run([
      ...["--source", source(), "--token-file", join(dir, "token"), "--ca-file", join(dir, "ca.crt")],
      ...["--target", target, "--termination-log", termination],
    ]);
    expect(r.code).toBe(2);
    expect(await readFile(termination, "utf8")).toContain("is not the server this population was given");
    expect(await readFile(target, "utf8")).toBe("untouched");
    expect(requests).toBe(0);
  });

  it("names what is missing from its command line", async () => {
    const r = await run(["--source", source(), "--token-file", "t", "--target", "x"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("--source, --token-file, --ca-file and --target are required");
  });
});
