import { describe, expect, it } from "vitest";
import { countBetween, parseCron } from "./cron.ts";

const utc = (s: string) => Date.parse(`${s}Z`);
const iso = (t: number | undefined) => (t === undefined ? undefined : new Date(t).toISOString());

function cron(schedule: string, zone?: string) {
  const p = parseCron(schedule, zone);
  if (!p.ok) throw new Error(p.message);
  return p.cron;
}

describe("parseCron", () => {
  it.each([
    ["a six-field expression (seconds)", "0 0 2 * * *", "InvalidSchedule"],
    ["four fields", "0 2 * *", "InvalidSchedule"],
    ["a minute out of range", "61 * * * *", "InvalidSchedule"],
    ["a date that never comes", "0 0 31 2 *", "InvalidSchedule"],
    ["a name the library does not know", "0 0 * * LLL", "InvalidSchedule"],
    ["H (random) is not CronJob syntax", "H * * * *", "InvalidSchedule"],
    ["an unknown macro", "@reboot", "InvalidSchedule"],
  ])("refuses %s", (_why, schedule, reason) => {
    expect(parseCron(schedule, undefined)).toMatchObject({ ok: false, reason });
  });

  it("refuses a time zone the runtime does not know, naming it", () => {
    expect(parseCron("0 2 * * *", "Mars/Olympus_Mons")).toEqual({
      ok: false,
      reason: "InvalidTimeZone",
      message: "time zone Mars/Olympus_Mons is not in the IANA time zone database",
    });
  });

  it("finds the next time strictly after, and the latest at or before", () => {
    const c = cron("0 2 * * *");
    expect(iso(c.next(utc("2025-01-02T02:00:00")))).toBe("2025-01-03T02:00:00.000Z");
    expect(iso(c.latest(utc("2025-01-02T02:00:00")))).toBe("2025-01-02T02:00:00.000Z");
    expect(iso(c.latest(utc("2025-01-02T01:59:59")))).toBe("2025-01-01T02:00:00.000Z");
  });

  it("reads the schedule in its time zone", () => {
    expect(iso(cron("0 2 * * *", "Europe/Paris").next(utc("2025-01-01T00:00:00")))).toBe("2025-01-01T01:00:00.000Z");
    expect(iso(cron("0 2 * * *", "Europe/Paris").next(utc("2025-06-30T12:00:00")))).toBe("2025-07-01T00:00:00.000Z");
  });

  it("runs a time DST skips at the first moment after, and a repeated time once", () => {
    const c = cron("30 2 * * *", "Europe/Paris");
    // 30 March 2025: 02:30 does not exist in Paris.
    expect(iso(c.next(utc("2025-03-29T12:00:00")))).toBe("2025-03-30T01:30:00.000Z");
    // 26 October 2025: 02:30 happens twice; one run.
    const fall = c.next(utc("2025-10-25T12:00:00"));
    expect(iso(fall)).toBe("2025-10-26T00:30:00.000Z");
    expect(iso(c.next(fall ?? 0))).toBe("2025-10-27T01:30:00.000Z");
  });

  it("matches day-of-month or day-of-week when both are restricted, as cron and CronJob do", () => {
    // The 1st of the month, or a Monday: Saturday 1 February 2025 counts.
    const c = cron("0 0 1 * 1");
    expect(iso(c.next(utc("2025-01-27T12:00:00")))).toBe("2025-02-01T00:00:00.000Z");
    expect(iso(c.next(utc("2025-02-01T12:00:00")))).toBe("2025-02-03T00:00:00.000Z");
  });

  it.each([
    ["@hourly", "2025-01-01T01:00:00.000Z"],
    ["@daily", "2025-01-02T00:00:00.000Z"],
    ["@midnight", "2025-01-02T00:00:00.000Z"],
    ["@weekly", "2025-01-05T00:00:00.000Z"],
    ["@monthly", "2025-02-01T00:00:00.000Z"],
    ["@yearly", "2026-01-01T00:00:00.000Z"],
    ["@annually", "2026-01-01T00:00:00.000Z"],
  ])("takes CronJob's macro %s", (macro, next) => {
    expect(iso(cron(macro).next(utc("2025-01-01T00:30:00")))).toBe(next);
  });

  it("counts the times missed, capped", () => {
    const c = cron("*/5 * * * *");
    expect(countBetween(c, utc("2025-01-01T00:00:00"), utc("2025-01-01T00:30:00"))).toBe(6);
    expect(countBetween(c, utc("2025-01-01T00:00:00"), utc("2025-02-01T00:00:00"))).toBe(100);
  });
});
