// What the test array keeps beside its embedded engine: what WSAPI shows but the engine does not model —
// volume comments, creation times and ids of base volumes, and which engine job is which task (WSAPI task
// type, name). All in memory: the test array lives as long as one test.
import type { Clock } from "../../operator/src/engine/port.ts";
import type { EmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";

export interface TaskRecord {
  readonly id: number;
  readonly type: number;
  readonly name: string;
}

export class ArrayState {
  readonly engine: EmbeddedEngine;
  readonly clock: Clock;
  readonly comments = new Map<string, string>();
  readonly created = new Map<string, number>();
  readonly tasks = new Map<number, TaskRecord>();
  readonly #ids = new Map<string, number>();

  constructor(engine: EmbeddedEngine, clock: Clock) {
    this.engine = engine;
    this.clock = clock;
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
  }
}
