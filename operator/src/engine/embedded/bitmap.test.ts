import { describe, expect, it } from "vitest";
import { Bitmap } from "./bitmap.ts";

describe("Bitmap", () => {
  const cases: { name: string; build: (m: Bitmap) => void; ranges: { start: number; count: number }[] }[] = [
    {
      name: "empty map has no ranges",
      build: () => {
        /* nothing set */
      },
      ranges: [],
    },
    {
      name: "single bit",
      build: (m) => {
        m.set(5);
      },
      ranges: [{ start: 5, count: 1 }],
    },
    {
      name: "range crossing byte boundaries",
      build: (m) => {
        m.setRange(3, 20);
      },
      ranges: [{ start: 3, count: 20 }],
    },
    {
      name: "clear splits a range",
      build: (m) => {
        m.setRange(0, 32);
        m.clearRange(8, 8);
      },
      ranges: [
        { start: 0, count: 8 },
        { start: 16, count: 16 },
      ],
    },
    {
      name: "far sparse bit grows the map",
      build: (m) => {
        m.set(1_000_000);
      },
      ranges: [{ start: 1_000_000, count: 1 }],
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      const m = new Bitmap(16);
      c.build(m);
      expect([...m.ranges()]).toEqual(c.ranges);
      expect(m.count()).toBe(c.ranges.reduce((n, r) => n + r.count, 0));
    });
  }

  it("union and limit", () => {
    const a = Bitmap.fromRanges([{ start: 0, count: 4 }]);
    a.union(Bitmap.fromRanges([{ start: 10, count: 10 }]));
    expect([...a.ranges(15)]).toEqual([
      { start: 0, count: 4 },
      { start: 10, count: 5 },
    ]);
  });
});
