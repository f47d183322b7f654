import { mkdtemp, rm, stat, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { RecordLog } from "./record-log.ts";

describe("RecordLog", () => {
  let dir = "";
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "record-log-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("a missing log opens empty and is created on the first append", async () => {
    const { log, records } = await RecordLog.open(join(dir, "a.log"), () => true);
    expect(records).toEqual([]);
    await log.append([{ type: 1, arg: 7, payload: Buffer.from("hello") }]);
    await log.close();
    const reopened = await RecordLog.open(join(dir, "a.log"), () => true);
    expect(reopened.records.map((r) => [r.type, r.arg, r.payload?.toString()])).toEqual([[1, 7, "hello"]]);
    await reopened.log.close();
  });

  it("a torn tail is dropped and truncated, earlier records survive", async () => {
    const path = join(dir, "b.log");
    const { log } = await RecordLog.open(path, () => false);
    await log.append([{ type: 2, arg: 1, payload: Buffer.alloc(100, 1) }]);
    await log.append([{ type: 2, arg: 2, payload: Buffer.alloc(100, 2) }]);
    await log.close();
    // Two records of 20 + 100 bytes; tear the second (the zeros written ahead go with it).
    await truncate(path, 230);
    const reopened = await RecordLog.open(path, () => false);
    expect(reopened.records.map((r) => r.arg)).toEqual([1]);
    expect((await stat(path)).size).toBe(120);
    const back = Buffer.alloc(100);
    const first = reopened.records[0];
    if (first === undefined) throw new Error("no record");
    await reopened.log.read(back, 0, 100, first.payloadOffset);
    expect(back.equals(Buffer.alloc(100, 1))).toBe(true);
    await reopened.log.close();
  });
});
