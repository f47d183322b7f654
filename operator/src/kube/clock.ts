// Clock: the one port through which kube/ reads time and schedules work, so the work queue, rate limiters, event
// folding and leader election can be driven deterministically in tests.
//
// Invariants: `now()` is epoch milliseconds and never goes backwards on the fake clock; a timer fires at most once
// and never after it was cancelled; the fake clock fires due timers in deadline order, ties in scheduling order.
// `sleep` resolves to a boolean rather than rejecting on abort because every caller (leader loop, throttle)
// treats an abort as "stop quietly", and a rejection would only be caught and discarded.

export interface Timer {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since the epoch. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds (0 or less: on the next turn). */
  setTimer(ms: number, fn: () => void): Timer;
  /** Resolves true after `ms`, or false as soon as `signal` aborts (at once if already aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<boolean>;
}

function sleepWith(clock: Clock, ms: number, signal: AbortSignal | undefined): Promise<boolean> {
  if (signal?.aborted === true) return Promise.resolve(false);
  return new Promise<boolean>((resolve) => {
    const onAbort = (): void => {
      timer.cancel();
      resolve(false);
    };
    const timer = clock.setTimer(ms, () => {
      signal?.removeEventListener("abort", onAbort);
      resolve(true);
    });
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The wall clock. Timers are unref'd so a pending delay never keeps the process alive on shutdown. */
export const realClock: Clock = {
  now: () => Date.now(),
  setTimer(ms, fn) {
    const handle = setTimeout(fn, Math.max(0, ms));
    handle.unref();
    return {
      cancel: () => {
        clearTimeout(handle);
      },
    };
  },
  sleep(ms, signal) {
    return sleepWith(realClock, ms, signal);
  },
};

interface FakeTimer {
  readonly due: number;
  readonly seq: number;
  readonly fn: () => void;
  cancelled: boolean;
}

/** A manually driven clock for tests: time moves only through `advance` / `advanceAsync`. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  #timers: FakeTimer[] = [];

  constructor(start = Date.UTC(2025, 0, 1)) {
    this.#now = start;
  }

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const timer: FakeTimer = { due: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#timers.push(timer);
    return {
      cancel: () => {
        timer.cancelled = true;
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    return sleepWith(this, ms, signal);
  }

  /** Timers scheduled and neither fired nor cancelled. */
  pending(): number {
    return this.#timers.filter((t) => !t.cancelled).length;
  }

  /**
   * Moves time forward by `ms`, firing every timer due on the way in order, with `now()` set to each timer's
   * deadline while it runs. Timers that callbacks schedule inside the window fire too.
   */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) this.#fire(t);
    this.#now = end;
  }

  /**
   * Like `advance`, but lets promise continuations run after each timer, so async loops (a sleep followed by more
   * scheduling) progress as they would in real time.
   */
  async advanceAsync(ms: number): Promise<void> {
    const end = this.#now + ms;
    await settle();
    for (let t = this.#nextDue(end); t !== undefined; t = this.#nextDue(end)) {
      this.#fire(t);
      await settle();
    }
    this.#now = end;
    await settle();
  }

  #nextDue(end: number): FakeTimer | undefined {
    this.#timers = this.#timers.filter((t) => !t.cancelled);
    let next: FakeTimer | undefined;
    for (const t of this.#timers) {
      if (t.due > end) continue;
      if (next === undefined || t.due < next.due || (t.due === next.due && t.seq < next.seq)) next = t;
    }
    return next;
  }

  #fire(t: FakeTimer): void {
    t.cancelled = true;
    this.#now = Math.max(this.#now, t.due);
    t.fn();
  }
}

/** Lets every pending promise continuation run (one macrotask turn); not time-based. */
export function settle(): Promise<void> {
  return new Promise((resolve) => {
    setImmediate(resolve);
  });
}

interface ShiftedTimer {
  readonly due: number;
  readonly fn: () => void;
  handle: ReturnType<typeof setTimeout> | undefined;
}

/**
 * The wall clock, moved on by hand: real time passes as usual (timeouts, backoffs and polls run as they would), and
 * `jump(ms)` moves the clock forward at once, firing the timers that fall due. For tests of work scheduled hours
 * or days ahead (a CopySchedule's runs) next to components that keep real time.
 */
export class ShiftedClock implements Clock {
  #offset = 0;
  readonly #timers = new Set<ShiftedTimer>();

  now(): number {
    return Date.now() + this.#offset;
  }

  setTimer(ms: number, fn: () => void): Timer {
    const timer: ShiftedTimer = { due: this.now() + Math.max(0, ms), fn, handle: undefined };
    this.#timers.add(timer);
    this.#arm(timer);
    return {
      cancel: () => {
        clearTimeout(timer.handle);
        this.#timers.delete(timer);
      },
    };
  }

  sleep(ms: number, signal?: AbortSignal): Promise<boolean> {
    return sleepWith(this, ms, signal);
  }

  /** Moves the clock forward by `ms`; timers due by then fire on the next turn, in deadline order. */
  jump(ms: number): void {
    this.#offset += Math.max(0, ms);
    for (const t of [...this.#timers].sort((a, b) => a.due - b.due)) this.#arm(t);
  }

  /** Moves the clock forward to `time` (epoch ms); never backwards. */
  jumpTo(time: number): void {
    this.jump(time - this.now());
  }

  #arm(t: ShiftedTimer): void {
    clearTimeout(t.handle);
    t.handle = setTimeout(
      () => {
        this.#timers.delete(t);
        t.fn();
      },
      Math.max(0, t.due - this.now()),
    );
    t.handle.unref();
  }
}
