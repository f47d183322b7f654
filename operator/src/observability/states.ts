// Copies by kind and CIM SyncState, jobs by JobState: counted from what the caches hold, at scrape time.
import type { StateCounts } from "./metrics.ts";

export interface StateSources {
  /** Every copy: its kind and SyncState (undefined when the array reports none). */
  copies(): Iterable<{ readonly kind: string; readonly syncState: string | undefined }>;
  /** Every job's JobState (undefined before it has one). */
  jobs(): Iterable<string | undefined>;
}

export function countStates(sources: StateSources): StateCounts {
  const count = (keys: Iterable<string>): Map<string, number> => {
    const m = new Map<string, number>();
    for (const k of keys) m.set(k, (m.get(k) ?? 0) + 1);
    return m;
  };
  return {
    copies: () => count(Array.from(sources.copies(), (c) => `${c.kind}/${c.syncState ?? "None"}`)),
    jobs: () => count(Array.from(sources.jobs(), (s) => s ?? "None")),
  };
}
