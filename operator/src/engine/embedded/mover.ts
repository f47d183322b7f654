// The copier's data movers: worker threads (mover-thread.ts) that copy byte ranges with synchronous I/O, so a
// physical copy's reads and writes neither wait on the operator's event loop nor queue behind libuv's four-thread
// pool (where the engine's fsyncs and every other file call also wait). A copy job leases one thread for its whole
// run; a thread left idle ends after `idleMs`, so an operator at rest holds none.
import { Worker } from "node:worker_threads";
import type { Move, MoverReply, MoverRequest } from "./mover-thread.ts";

export type { Move, Segment } from "./mover-thread.ts";

/** One leased thread: runs batches of moves in order. */
export interface Mover {
  /** Runs the moves; resolves with the indices of those that failed (all of them if the thread is gone). */
  move(moves: readonly Move[]): Promise<ReadonlySet<number>>;
}

// From source (tests, `node file.ts`) the thread runs mover-thread.ts beside this file; built, this code is inside
// the bundle dist/main.js and the thread runs the bundle dist/mover-thread.js beside it (hack/build.ts).
const threadUrl = new URL(import.meta.url.endsWith(".ts") ? "./mover-thread.ts" : "./mover-thread.js", import.meta.url);

class MoverThread implements Mover {
  readonly #worker: Worker;
  readonly #pending = new Map<number, (reply: MoverReply | undefined) => void>();
  #next = 0;
  #dead = false;
  idleTimer: NodeJS.Timeout | undefined;

  constructor(onExit: (t: MoverThread) => void) {
    this.#worker = new Worker(threadUrl);
    const fail = (): void => {
      this.#dead = true;
      for (const answer of this.#pending.values()) answer(undefined);
      this.#pending.clear();
      onExit(this);
    };
    this.#worker.on("message", (reply: MoverReply) => {
      const answer = this.#pending.get(reply.id);
      this.#pending.delete(reply.id);
      answer?.(reply);
    });
    this.#worker.on("error", fail);
    this.#worker.on("exit", fail);
  }

  get dead(): boolean {
    return this.#dead;
  }

  #ask(req: MoverRequest): Promise<MoverReply | undefined> {
    if (this.#dead) return Promise.resolve(undefined);
    return new Promise((resolve) => {
      this.#pending.set(req.id, resolve);
      this.#worker.postMessage(req);
    });
  }

  async move(moves: readonly Move[]): Promise<ReadonlySet<number>> {
    if (moves.length === 0) return new Set();
    const reply = await this.#ask({ id: this.#next++, kind: "move", moves });
    return reply === undefined ? new Set(moves.keys()) : new Set(reply.failed);
  }

  /** Closes the thread's files (the lease ends); false if the thread is gone or could not. */
  async release(): Promise<boolean> {
    const reply = await this.#ask({ id: this.#next++, kind: "release" });
    return reply !== undefined && reply.error === undefined;
  }

  ref(held: boolean): void {
    if (held) this.#worker.ref();
    else this.#worker.unref();
  }

  async terminate(): Promise<void> {
    clearTimeout(this.idleTimer);
    this.#dead = true;
    await this.#worker.terminate();
  }
}

export class MoverPool {
  readonly #idle: MoverThread[] = [];
  readonly #all = new Set<MoverThread>();
  readonly #idleMs: number;
  #closed = false;

  constructor(opts: { readonly idleMs?: number } = {}) {
    this.#idleMs = opts.idleMs ?? 10_000;
  }

  /** Runs `work` with a thread of its own; the thread goes back to the pool after. */
  async with<T>(work: (mover: Mover) => Promise<T>): Promise<T> {
    if (this.#closed) throw new Error("the engine is closing");
    const thread = this.#take();
    try {
      return await work(thread);
    } finally {
      await this.#give(thread);
    }
  }

  /** Threads alive, leased or idle. */
  get threads(): number {
    return this.#all.size;
  }

  async close(): Promise<void> {
    this.#closed = true;
    const all = [...this.#all];
    this.#all.clear();
    this.#idle.length = 0;
    await Promise.all(all.map((t) => t.terminate()));
  }

  #take(): MoverThread {
    for (let t = this.#idle.pop(); t !== undefined; t = this.#idle.pop()) {
      clearTimeout(t.idleTimer);
      if (!t.dead) {
        t.ref(true);
        return t;
      }
    }
    const t = new MoverThread((gone) => {
      this.#all.delete(gone);
      const at = this.#idle.indexOf(gone);
      if (at >= 0) this.#idle.splice(at, 1);
    });
    this.#all.add(t);
    return t;
  }

  async #give(t: MoverThread): Promise<void> {
    // A thread that cannot close its files is not reused: its replacement starts with none open.
    if (this.#closed || !(await t.release())) {
      this.#all.delete(t);
      await t.terminate();
      return;
    }
    t.ref(false);
    t.idleTimer = setTimeout(() => {
      this.#idle.splice(this.#idle.indexOf(t), 1);
      this.#all.delete(t);
      void t.terminate();
    }, this.#idleMs);
    t.idleTimer.unref();
    this.#idle.push(t);
  }
}
