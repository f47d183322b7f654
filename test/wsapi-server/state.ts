// What the test array keeps beside its embedded engine: what WSAPI shows but the engine does not model —
// volume comments, creation times and ids of base volumes, which engine job is which task (WSAPI task type,
// name), the internal snapshots an online copy makes, the array's own system tasks, and the quirks it is
// asked to show. All in memory: the test array lives as long as one test.
import type { Clock } from "../../operator/src/engine/port.ts";
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";

export interface TaskRecord {
  readonly id: number;
  readonly type: number;
  readonly name: string;
}

/**
 * Ways real servers differ from the guide, each switched on by a test (all off by default):
 * - lenientBodies: writes whose documented answer is empty answer with a body;
 * - stringTaskIds: task ids (in tasks and in `taskid`) are numeric strings;
 * - ignoreQueries: `?query=` is ignored and every volume is returned;
 * - foreignTasks: the task list holds the array's own tasks (system, tuning, remote copy) beside copy tasks, some
 *   named like our volumes, one of them active;
 * - malformedRecord: each list holds one member without a required field.
 */
export interface Quirks {
  lenientBodies: boolean;
  stringTaskIds: boolean;
  ignoreQueries: boolean;
  foreignTasks: boolean;
  malformedRecord: boolean;
}

export type QuirkName = keyof Quirks;
export const quirkNames: readonly QuirkName[] = [
  "lenientBodies",
  "stringTaskIds",
  "ignoreQueries",
  "foreignTasks",
  "malformedRecord",
];

export function noQuirks(): Quirks {
  return {
    lenientBodies: false,
    stringTaskIds: false,
    ignoreQueries: false,
    foreignTasks: false,
    malformedRecord: false,
  };
}

/**
 * An array-made snapshot on the way from an online copy's source to its destination (HPE's client finds them as
 * the destination's copyOf, then that one's copyOf): a RO snapshot of the source and a RW snapshot of that.
 */
export interface InternalSnapshot {
  readonly name: string;
  readonly copyOf: string;
  readonly readOnly: boolean;
  readonly sizeMiB: number;
  readonly created: number;
  /** The online copy task they serve; they go when it finishes DONE. */
  readonly task: number;
}

export class ArrayState {
  readonly engine: EmbeddedEngine;
  readonly clock: Clock;
  readonly quirks: Quirks;
  readonly comments = new Map<string, string>();
  readonly created = new Map<string, number>();
  readonly tasks = new Map<number, TaskRecord>();
  readonly internal = new Map<string, InternalSnapshot>();
  /** An online copy's destination → the internal snapshot it is a copy of, while the chain exists. */
  readonly chainOf = new Map<string, string>();
  /** The volume sets made through the array, in creation order (the engine keeps their members). */
  readonly setNames: string[] = [];
  /** Every volume DELETE the array carried out, in order. */
  readonly deleted: string[] = [];
  readonly #ids = new Map<string, number>();

  constructor(engine: EmbeddedEngine, clock: Clock, quirks: Quirks) {
    this.engine = engine;
    this.clock = clock;
    this.quirks = quirks;
  }

  idOf(name: string): number {
    let id = this.#ids.get(name);
    if (id === undefined) {
      id = this.#ids.size + 1;
      this.#ids.set(name, id);
    }
    return id;
  }

  forget(name: string): void {
    this.comments.delete(name);
    this.created.delete(name);
    this.chainOf.delete(name);
  }

  /** Whether anything (an internal snapshot or a destination) is a copy of `name`. */
  hasChild(name: string): boolean {
    return [...this.internal.values()].some((s) => s.copyOf === name) || [...this.chainOf.values()].includes(name);
  }

  /** The array removes an online copy's internal snapshots once the copy finished DONE. */
  async settle(): Promise<void> {
    for (const snap of [...this.internal.values()]) {
      const job = await this.engine.observeJob(String(snap.task));
      if (job?.jobState !== "Completed") continue;
      this.internal.delete(snap.name);
      for (const [dest, parent] of this.chainOf) if (parent === snap.name) this.chainOf.delete(dest);
    }
  }
}
