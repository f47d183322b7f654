import { describe, expect, it } from "vitest";
import { FakeClock, ShiftedClock } from "./clock.ts";

describe("FakeClock", () => {
  it("fires due timers in deadline order, ties in scheduling order, with now() at each deadline", () => {
    const clock = new FakeClock(1000);
    const fired: string[] = [];
    clock.setTimer(30, () => fired.push(`c@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`a@${clock.now()}`));
    clock.setTimer(10, () => fired.push(`b@${clock.now()}`));
    clock.setTimer(31, () => fired.push("late"));
    clock.advance(30);
    expect(fired).toEqual(["a@1010", "b@1010", "c@1030"]);
    expect(clock.now()).toBe(1030);
    expect(clock.pending()).toBe(1);
  });

  it("fires timers scheduled by a callback inside the advanced window", () => {
    const clock = new FakeClock(0);
    const fired: number[] = [];
    clock.setTimer(5, () => {
      fired.push(clock.now());
      clock.setTimer(5, () => fired.push(clock.now()));
    });
    clock.advance(10);
    expect(fired).toEqual([5, 10]);
  });

  it("never fires a cancelled timer", () => {
    const clock = new FakeClock(0);
    let fired = false;
    clock
      .setTimer(5, () => {
        fired = true;
      })
      .cancel();
    clock.advance(10);
    expect(fired).toBe(false);
    expect(clock.pending()).toBe(0);
  });

  it("sleep resolves true when time passes and false on abort, without leaving a timer behind", async () => {
    const clock = new FakeClock(0);
    const slept = clock.sleep(100);
    await clock.advanceAsync(100);
    await expect(slept).resolves.toBe(true);

    const ac = new AbortController();
    const aborted = clock.sleep(100, ac.signal);
    ac.abort();
    await expect(aborted).resolves.toBe(false);
    expect(clock.pending()).toBe(0);
    await expect(clock.sleep(5, ac.signal)).resolves.toBe(false);
  });

  it("advanceAsync lets an async loop schedule its next sleep between timers", async () => {
    const clock = new FakeClock(0);
    const ticks: number[] = [];
    const loop = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) {
        await clock.sleep(10);
        ticks.push(clock.now());
      }
    };
    const running = loop();
    await clock.advanceAsync(30);
    await running;
    expect(ticks).toEqual([10, 20, 30]);
  });
});

describe("ShiftedClock", () => {
  it("keeps real time, and a jump fires the timers it passes, in deadline order, and not the others", async () => {
    const clock = new ShiftedClock();
    const start = clock.now();
    const fired: string[] = [];
    clock.setTimer(2 * 3_600_000, () => fired.push("2h"));
    clock.setTimer(3_600_000, () => fired.push("1h"));
    clock.setTimer(5 * 3_600_000, () => fired.push("5h"));
    const cancelled = clock.setTimer(3_600_000, () => fired.push("cancelled"));
    cancelled.cancel();
    clock.jump(3 * 3_600_000);
    expect(clock.now() - start).toBeGreaterThanOrEqual(3 * 3_600_000);
    // A timer set now fires after those the jump made due, which were armed first.
    await clock.sleep(0);
    expect(fired).toEqual(["1h", "2h"]);
  });

  it("runs short timers in real time, as the wall clock does", async () => {
    const clock = new ShiftedClock();
    clock.jumpTo(clock.now() + 86_400_000);
    expect(await clock.sleep(1)).toBe(true);
  });
});
