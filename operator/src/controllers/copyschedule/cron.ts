// A schedule's times, read by cron-parser (a maintained library with IANA time zones and DST handling; no cron
// parser of our own). Kubernetes CronJob semantics: five fields, or a CronJob macro; day-of-month and day-of-week
// match either one when both are restricted; a time a DST change skips runs at the first moment after it, and a
// time it repeats runs once. The library takes more than CronJob does (six fields, L, #, H), so the field count
// and characters are checked here as the CRD's CEL rule checks them; what the library then refuses is a Stalled
// condition, not a crash.
import { CronExpressionParser, type CronExpression } from "cron-parser";
import { cronPattern } from "../../api/copyschedule.ts";

export type ScheduleReason = "InvalidSchedule" | "InvalidTimeZone";

export interface Cron {
  /** The first scheduled time strictly after `t` (epoch ms), if any. */
  next(t: number): number | undefined;
  /** The last scheduled time at or before `t`, if any. */
  latest(t: number): number | undefined;
}

export type CronParse =
  | { readonly ok: true; readonly cron: Cron; readonly zone: string }
  | { readonly ok: false; readonly reason: ScheduleReason; readonly message: string };

/** CronJob's macros, as five fields (cron-parser's own would add a seconds field and lacks two of these). */
const macros: Readonly<Record<string, string>> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

const shape = new RegExp(cronPattern);

/** Whether the runtime's time zone database knows `zone`. */
export function knownZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export function parseCron(schedule: string, timeZone: string | undefined): CronParse {
  const zone = timeZone ?? "UTC";
  if (!knownZone(zone))
    return { ok: false, reason: "InvalidTimeZone", message: `time zone ${zone} is not in the IANA time zone database` };
  const text = schedule.trim();
  if (!shape.test(text))
    return {
      ok: false,
      reason: "InvalidSchedule",
      message: `schedule "${schedule}" is not five cron fields (minute hour day-of-month month day-of-week) or a macro`,
    };
  const expr = macros[text] ?? text;
  let parsed: CronExpression;
  try {
    parsed = CronExpressionParser.parse(expr, { tz: zone, currentDate: 0 });
    // A schedule that never fires (31 February) is refused here rather than at its first use.
    parsed.next();
  } catch (e: unknown) {
    const why = e instanceof Error ? e.message : String(e);
    return { ok: false, reason: "InvalidSchedule", message: `schedule "${schedule}" is refused: ${why}` };
  }
  const at = (t: number) => CronExpressionParser.parse(expr, { tz: zone, currentDate: t });
  return {
    ok: true,
    zone,
    cron: {
      next: (t) => attempt(() => at(t).next().getTime()),
      // prev() is strictly before its start: from t + 1 ms it finds a time at t itself.
      latest: (t) =>
        attempt(() =>
          at(t + 1)
            .prev()
            .getTime(),
        ),
    },
  };
}

function attempt(f: () => number): number | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/**
 * How many scheduled times fall in (after, upTo], counting at most `cap` (a schedule down for a year is "more than
 * cap", as CronJob says "too many missed start times").
 */
export function countBetween(cron: Cron, after: number, upTo: number, cap = 100): number {
  let n = 0;
  for (let t = cron.next(after); t !== undefined && t <= upTo && n < cap; t = cron.next(t)) n++;
  return n;
}
