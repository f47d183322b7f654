// Retention: which of a schedule's copies to keep and which to delete, as a pure function of the copies, the policy
// and the time zone the periods are read in.
//
// Invariants (each tested in retention.test.ts):
// - Only Ready copies count: keepLast N keeps the newest N Ready copies; hourly/daily/weekly/monthly N keep the
//   newest Ready copy of each of the last N periods that have one (grandfather-father-son, as restic and borg
//   count). A copy kept by any rule is kept.
// - The newest Ready copy is always kept, so retention never deletes the last good copy; with no Ready copy at
//   all nothing is deleted.
// - A Ready copy that no rule keeps is deleted: each such copy is older than the kept copy that stands for its
//   period, and older than the newest kept one.
// - A copy that is not Ready (Broken, failed, expired) is deleted only once it is older than every kept copy; one
//   still in progress is never deleted.
export type CopyState = "ready" | "failed" | "running";

export interface RetentionItem {
  readonly name: string;
  /** The run's scheduled time, epoch ms: what "newest" and the periods are read from. */
  readonly at: number;
  readonly state: CopyState;
}

export interface Policy {
  readonly keepLast?: number | undefined;
  readonly hourly?: number | undefined;
  readonly daily?: number | undefined;
  readonly weekly?: number | undefined;
  readonly monthly?: number | undefined;
}

export interface Retained {
  /** Ready copies kept, newest first. */
  readonly keep: readonly string[];
  /** Copies to delete, oldest first. */
  readonly prune: readonly string[];
}

type Period = "hourly" | "daily" | "weekly" | "monthly";
const periods: readonly Period[] = ["hourly", "daily", "weekly", "monthly"];

const newestFirst = (a: RetentionItem, b: RetentionItem): number =>
  b.at - a.at || (a.name < b.name ? 1 : a.name > b.name ? -1 : 0);

export function retain(items: readonly RetentionItem[], policy: Policy | undefined, zone: string): Retained {
  const ready = items.filter((i) => i.state === "ready").sort(newestFirst);
  if (policy === undefined) return { keep: ready.map((i) => i.name), prune: [] };
  const kept = new Set<string>(ready.slice(0, policy.keepLast ?? 0).map((i) => i.name));
  for (const p of periods) {
    const n = policy[p];
    if (n === undefined) continue;
    const seen = new Set<string>();
    for (const item of ready) {
      const key = periodKey(item.at, p, zone);
      if (seen.has(key)) continue;
      if (seen.size >= n) break;
      seen.add(key);
      kept.add(item.name);
    }
  }
  const keep = ready.filter((i) => kept.has(i.name));
  const oldestKept = keep.at(-1)?.at;
  if (oldestKept === undefined) return { keep: [], prune: [] };
  const prune = items
    .filter((i) => (i.state === "ready" ? !kept.has(i.name) : i.state === "failed" && i.at < oldestKept))
    .sort((a, b) => -newestFirst(a, b));
  return { keep: keep.map((i) => i.name), prune: prune.map((i) => i.name) };
}

/** The calendar parts of an instant in a time zone. */
function localParts(t: number, zone: string): { y: number; m: number; d: number; h: number } {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    year: "numeric",
    month: "numeric",
    day: "numeric",
    hour: "numeric",
    hourCycle: "h23",
  }).formatToParts(new Date(t));
  const get = (type: string) => Number(parts.find((p) => p.type === type)?.value ?? "0");
  return { y: get("year"), m: get("month"), d: get("day"), h: get("hour") };
}

/** The ISO 8601 week (Monday first) of a calendar date, as "yyyy-Www" of its week-numbering year. */
export function isoWeek(y: number, m: number, d: number): string {
  const date = new Date(Date.UTC(y, m - 1, d));
  const weekday = (date.getUTCDay() + 6) % 7; // Monday 0 … Sunday 6
  date.setUTCDate(date.getUTCDate() - weekday + 3); // the Thursday of this week decides its year
  const year = date.getUTCFullYear();
  // Week 1 holds the year's first Thursday: a Thursday's week is its 0-based day of the year over 7, plus 1.
  const week = 1 + Math.floor((date.getTime() - Date.UTC(year, 0, 1)) / 86_400_000 / 7);
  return `${year}-W${String(week).padStart(2, "0")}`;
}

export function periodKey(t: number, period: Period, zone: string): string {
  const { y, m, d, h } = localParts(t, zone);
  switch (period) {
    case "hourly":
      return `${y}-${m}-${d}T${h}`;
    case "daily":
      return `${y}-${m}-${d}`;
    case "weekly":
      return isoWeek(y, m, d);
    case "monthly":
      return `${y}-${m}`;
  }
}
