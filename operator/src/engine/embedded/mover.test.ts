import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { constants } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { MoverPool } from "./mover.ts";

describe("the data mover", () => {
  let dir: string;
  let pool: MoverPool;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "mover-"));
    pool = new MoverPool({ idleMs: 1000 });
  });
  afterEach(async () => {
    await pool.close();
    await rm(dir, { recursive: true, force: true });
  });

  const bytes = (n: number, seed: number): Buffer => {
    const b = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) % 251;
    return b;
  };

  it("writes each move's segments, in order, at its offset; a data file reads zeros past its end", async () => {
    const data = join(dir, "1.data");
    const log = join(dir, "2.log");
    const target = join(dir, "3.data");
    await writeFile(data, bytes(100, 1));
    await writeFile(log, bytes(300, 2));
    await writeFile(target, Buffer.alloc(0));
    const failed = await pool.with((m) =>
      m.move([
        {
          target,
          at: 1000,
          from: [
            { path: log, offset: 50, bytes: 200, pastEnd: "error" },
            { path: data, offset: 60, bytes: 80, pastEnd: "zeros" },
          ],
        },
        { target, at: 0, from: [{ path: data, offset: 0, bytes: 10, pastEnd: "zeros" }] },
      ]),
    );
    expect([...failed]).toEqual([]);
    const out = await readFile(target);
    expect(out.subarray(0, 10)).toEqual(bytes(100, 1).subarray(0, 10));
    expect(out.subarray(1000, 1200)).toEqual(bytes(300, 2).subarray(50, 250));
    expect(out.subarray(1200, 1240)).toEqual(bytes(100, 1).subarray(60, 100));
    expect(out.subarray(1240, 1280)).toEqual(Buffer.alloc(40));
    expect(out.length).toBe(1280);
  });

  it("reports the moves that failed by index and still makes the others", async () => {
    const data = join(dir, "1.data");
    const target = join(dir, "3.data");
    await writeFile(data, bytes(64, 3));
    await writeFile(target, Buffer.alloc(0));
    const failed = await pool.with((m) =>
      m.move([
        { target, at: 0, from: [{ path: join(dir, "gone.log"), offset: 0, bytes: 8, pastEnd: "error" }] },
        { target, at: 8, from: [{ path: data, offset: 0, bytes: 8, pastEnd: "zeros" }] },
        // A log shorter than asked for is an error, not zeros: the copier copies such a block again itself.
        { target, at: 16, from: [{ path: data, offset: 60, bytes: 8, pastEnd: "error" }] },
      ]),
    );
    expect([...failed].sort()).toEqual([0, 2]);
    const out = await readFile(target);
    expect(out.subarray(8, 16)).toEqual(bytes(64, 3).subarray(0, 8));
  });

  /** This process's open descriptors of `path` (the mover's thread shares them) and whether each has O_DIRECT. */
  const openFlags = (path: string): boolean[] =>
    readdirSync("/proc/self/fd").flatMap((fd) => {
      try {
        if (readlinkSync(`/proc/self/fd/${fd}`) !== path) return [];
        const flags = /^flags:\s+([0-7]+)$/m.exec(readFileSync(`/proc/self/fdinfo/${fd}`, "utf8"))?.[1] ?? "0";
        return [(parseInt(flags, 8) & constants.O_DIRECT) !== 0];
      } catch {
        return []; // closed meanwhile (the listing's own descriptor)
      }
    });

  it("joins moves that follow each other on the target, written with O_DIRECT; a failed read splits them", async () => {
    const block = 64 * 1024;
    const data = join(dir, "1.data");
    const target = join(dir, "3.data");
    await writeFile(data, bytes(8 * block, 5));
    await writeFile(target, Buffer.alloc(0));
    const from = (b: number) => [{ path: data, offset: b * block, bytes: block, pastEnd: "zeros" as const }];
    const { failed, direct } = await pool.with(async (m) => {
      const failed = await m.move([
        { target, at: 0, from: from(3) },
        { target, at: block, from: from(4) },
        { target, at: 2 * block, from: [{ path: join(dir, "gone.log"), offset: 0, bytes: block, pastEnd: "error" }] },
        { target, at: 3 * block, from: from(6) },
        { target, at: 4 * block, from: from(7) },
      ]);
      // Still leased: the thread holds its descriptors until the lease ends.
      return { failed, direct: openFlags(target) };
    });
    expect([...failed]).toEqual([2]);
    expect(direct).toEqual([true]);
    const src = bytes(8 * block, 5);
    const out = await readFile(target);
    expect(out.subarray(0, 2 * block)).toEqual(src.subarray(3 * block, 5 * block));
    expect(out.subarray(2 * block, 3 * block)).toEqual(Buffer.alloc(block));
    expect(out.subarray(3 * block, 5 * block)).toEqual(src.subarray(6 * block, 8 * block));
    expect(openFlags(target)).toEqual([]);
  });

  it("writes an unaligned move through the page cache, and a move larger than a joined write whole", async () => {
    const data = join(dir, "1.data");
    const target = join(dir, "3.data");
    const big = 5 * 1024 * 1024 + 4096;
    await writeFile(data, bytes(big, 6));
    await writeFile(target, Buffer.alloc(0));
    const direct = await pool.with(async (m) => {
      expect([
        ...(await m.move([{ target, at: 100, from: [{ path: data, offset: 0, bytes: 1000, pastEnd: "zeros" }] }])),
      ]).toEqual([]);
      const unaligned = openFlags(target);
      expect([
        ...(await m.move([{ target, at: 8192, from: [{ path: data, offset: 0, bytes: big, pastEnd: "zeros" }] }])),
      ]).toEqual([]);
      return { unaligned, after: openFlags(target).sort() };
    });
    expect(direct).toEqual({ unaligned: [false], after: [false, true] });
    const out = await readFile(target);
    expect(out.subarray(100, 1100)).toEqual(bytes(big, 6).subarray(0, 1000));
    expect(out.subarray(8192, 8192 + big)).toEqual(bytes(big, 6));
  });

  it("reuses an idle thread, which ends after idleMs (1 s here), and refuses work once closed", async () => {
    const data = join(dir, "1.data");
    const target = join(dir, "3.data");
    await writeFile(data, bytes(16, 4));
    await writeFile(target, Buffer.alloc(0));
    const one = { target, at: 0, from: [{ path: data, offset: 0, bytes: 16, pastEnd: "zeros" as const }] };
    for (let i = 0; i < 3; i++) expect((await pool.with((m) => m.move([one]))).size).toBe(0);
    expect(pool.threads).toBe(1);
    await pool.with(async (a) => {
      await pool.with(async (b) => {
        expect(pool.threads).toBe(2);
        expect((await Promise.all([a.move([one]), b.move([one])])).map((f) => f.size)).toEqual([0, 0]);
      });
    });
    await expect.poll(() => pool.threads, { timeout: 5000 }).toBe(0);
    expect((await pool.with((m) => m.move([one]))).size).toBe(0);
    await pool.close();
    await expect(pool.with((m) => m.move([one]))).rejects.toThrow(/closing/);
  });
});
