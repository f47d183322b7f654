import { describe, expect, it } from "vitest";
import { isoWeek, periodKey, retain, type CopyState, type RetentionItem } from "./retention.ts";

const hour = 3_600_000;
const day = 24 * hour;
/** Nightly copies at 02:00 UTC from 2025-01-01 (a Wednesday), n of them, oldest first. */
const nightly = (n: number, state: (i: number) => CopyState = () => "ready"): RetentionItem[] =>
  Array.from({ length: n }, (_, i) => ({
    name: `c${String(i).padStart(3, "0")}`,
    at: Date.UTC(2025, 0, 1, 2) + i * day,
    state: state(i),
  }));
const names = (items: readonly RetentionItem[]) => items.map((i) => i.name);

describe("retain", () => {
  it.each([
    {
      why: "no policy keeps everything and deletes nothing",
      items: nightly(5),
      policy: undefined,
      keep: ["c004", "c003", "c002", "c001", "c000"],
      prune: [],
    },
    {
      why: "keepLast keeps the newest N Ready copies and deletes the older ones, oldest first",
      items: nightly(5),
      policy: { keepLast: 2 },
      keep: ["c004", "c003"],
      prune: ["c000", "c001", "c002"],
    },
    {
      why: "when the newest copies are Broken, the older good ones are kept: only Ready copies count",
      items: nightly(5, (i) => (i >= 3 ? "failed" : "ready")),
      policy: { keepLast: 2 },
      keep: ["c002", "c001"],
      prune: ["c000"],
    },
    {
      why: "a failed copy newer than a kept one stays (it is not older than every kept copy)",
      items: nightly(4, (i) => (i === 2 ? "failed" : "ready")),
      policy: { keepLast: 2 },
      keep: ["c003", "c001"],
      prune: ["c000"],
    },
    {
      why: "a failed copy older than every kept copy is deleted",
      items: nightly(4, (i) => (i === 0 ? "failed" : "ready")),
      policy: { keepLast: 2 },
      keep: ["c003", "c002"],
      prune: ["c000", "c001"],
    },
    {
      why: "with no Ready copy at all nothing is deleted, not even failed ones",
      items: nightly(4, () => "failed"),
      policy: { keepLast: 1 },
      keep: [],
      prune: [],
    },
    {
      why: "a run still going on is never deleted, however old",
      items: nightly(4, (i) => (i === 0 ? "running" : "ready")),
      policy: { keepLast: 1 },
      keep: ["c003"],
      prune: ["c001", "c002"],
    },
    {
      why: "daily keeps the newest copy of each of the last N days that have one",
      items: [...nightly(3), { name: "c002-late", at: Date.UTC(2025, 0, 3, 20), state: "ready" as const }],
      policy: { daily: 2 },
      keep: ["c002-late", "c001"],
      prune: ["c000", "c002"],
    },
  ])("$why", ({ items, policy, keep, prune }) => {
    expect(retain(items, policy, "UTC")).toEqual({ keep, prune });
  });

  it("keeps 7 daily and 4 weekly copies of nightly runs (the example's policy), and never the newest Broken", () => {
    const items = nightly(60);
    const r = retain(items, { daily: 7, weekly: 4 }, "UTC");
    // The newest night is Saturday 1 March: the 7 newest nights (23 February to 1 March) hold the newest of two
    // ISO weeks, and the two weeks before add their Sundays, 16 and 9 February.
    expect(r.keep.slice(0, 7)).toEqual(names(items.slice(-7)).reverse());
    const weekly = r.keep.slice(7).map((n) => new Date(items.find((i) => i.name === n)?.at ?? 0).toISOString());
    expect(weekly).toEqual(["2025-02-16T02:00:00.000Z", "2025-02-09T02:00:00.000Z"]);
    expect(r.prune).toHaveLength(60 - 9);
    // Everything deleted is older than the newest kept copy.
    const newest = Math.max(...items.filter((i) => r.keep.includes(i.name)).map((i) => i.at));
    for (const p of r.prune) expect(items.find((i) => i.name === p)?.at).toBeLessThan(newest);
  });

  it("counts periods that have a copy, not calendar periods: a gap does not use up the count", () => {
    const items = [0, 1, 10, 11].map((d) => ({
      name: `d${d}`,
      at: Date.UTC(2025, 0, 1 + d, 2),
      state: "ready" as const,
    }));
    expect(retain(items, { daily: 3 }, "UTC").keep).toEqual(["d11", "d10", "d1"]);
  });

  it("reads days in the schedule's time zone", () => {
    // 23:30 UTC on Jan 1 is already Jan 2 in Paris: the two copies fall on one Paris day.
    const items = [
      { name: "a", at: Date.UTC(2025, 0, 1, 23, 30), state: "ready" as const },
      { name: "b", at: Date.UTC(2025, 0, 2, 8), state: "ready" as const },
    ];
    expect(retain(items, { daily: 5 }, "UTC").keep).toEqual(["b", "a"]);
    expect(retain(items, { daily: 5 }, "Europe/Paris")).toEqual({ keep: ["b"], prune: ["a"] });
  });

  it("unites the rules: a copy kept by any rule is kept", () => {
    const items = nightly(40);
    const r = retain(items, { keepLast: 2, monthly: 2 }, "UTC");
    // The two newest, and the newest of January (Jan 31) — February's newest is already the newest.
    expect(r.keep).toEqual(["c039", "c038", "c030"]);
  });

  it("keeps hourly copies per hour", () => {
    const items = Array.from({ length: 6 }, (_, i) => ({
      name: `h${i}`,
      at: Date.UTC(2025, 0, 1, 0, i * 20),
      state: "ready" as const,
    }));
    expect(retain(items, { hourly: 2 }, "UTC").keep).toEqual(["h5", "h2"]);
  });
});

describe("isoWeek", () => {
  it.each([
    [2025, 1, 1, "2025-W01"],
    [2024, 12, 30, "2025-W01"],
    [2021, 1, 3, "2020-W53"],
    [2026, 12, 31, "2026-W53"],
    [2025, 6, 15, "2025-W24"],
    [2025, 6, 16, "2025-W25"],
  ])("%i-%i-%i is in %s", (y, m, d, want) => {
    expect(isoWeek(y, m, d)).toBe(want);
  });

  it("weeks run Monday to Sunday in the time zone", () => {
    const sunday = Date.UTC(2025, 0, 5, 22); // Sunday 22:00 UTC, Monday 07:00 in Tokyo
    expect(periodKey(sunday, "weekly", "UTC")).toBe("2025-W01");
    expect(periodKey(sunday, "weekly", "Asia/Tokyo")).toBe("2025-W02");
  });
});
