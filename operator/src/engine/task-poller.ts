// Job indications by polling, shared by the drivers whose array pushes nothing (WSAPI) or whose pushed
// indications may be missed (CIM, as the slow poll): while someone subscribes the engine polls the array's
// jobs (GET /tasks, or the CIM_ConcreteJob instances) and turns changes into Started / Progress / Finished
// (capabilities().indications is false: they come late by up to one poll and a job shorter than a poll may
// show only Finished). Tasks already finished at the first poll are history, not news, and are not reported —
// unless this engine started them (started()): a task that began and ended before the first poll came round is
// still news, reported Started then Finished. started() may also come after that first poll (the engine learns
// the task's id only once its create call returns, and the poll can run in between): a task the first poll filed
// as history is then reported at once. It polls only while a task it saw was unfinished, a task it started has not
// shown up yet, or after the engine woke it (a task started or stopped): an array with nothing running costs no
// request.
// observe() takes a job state pushed by the array (a CIM indication): it is reported at once, by the same rules,
// and the next poll finds nothing new about it. What a poll reports that no push did is told to onPolledNews, so an
// engine can notice that its pushed indications do not arrive.
import type { JobListener, JobObservation } from "./port.ts";
import { finishedJobStates } from "./port.ts";

/** How long a task this engine started is looked for in the array's list before it is given up. */
const unseenLimitMs = 10 * 60_000;

export class TaskPoller {
  readonly #listeners = new Set<JobListener>();
  readonly #seen = new Map<string, JobObservation>();
  readonly #poll: () => Promise<readonly JobObservation[]>;
  readonly #intervalMs: () => number;
  readonly #onPolledNews: ((job: JobObservation) => void) | undefined;
  #timer: NodeJS.Timeout | undefined;
  #primed = false;
  /** Set by wake(): poll again even if the last poll saw nothing running. */
  #woken = false;
  /** Tasks this engine started that no poll has seen yet: never history. */
  readonly #started = new Map<string, number>();
  /** Tasks the first poll found finished and filed as history: started() turns one back into news. */
  readonly #history = new Set<string>();

  /** intervalMs may change (a function): a CIM engine polls slowly while its indications are subscribed. */
  constructor(
    poll: () => Promise<readonly JobObservation[]>,
    intervalMs: number | (() => number),
    onPolledNews?: (job: JobObservation) => void,
  ) {
    this.#poll = poll;
    this.#intervalMs = typeof intervalMs === "number" ? () => intervalMs : intervalMs;
    this.#onPolledNews = onPolledNews;
  }

  subscribe(listener: JobListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) this.#schedule(0);
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.stop();
    };
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#primed = false;
    this.#seen.clear();
    this.#started.clear();
    this.#history.clear();
  }

  /** This engine started the task `id`: report it even if the first poll finds it already finished. */
  started(id: string): void {
    if (this.#listeners.size === 0) return;
    const filed = this.#seen.get(id);
    if (filed === undefined) {
      this.#started.set(id, Date.now());
    } else if (this.#history.delete(id)) {
      this.#emit("Started", filed);
      this.#emit("Finished", filed);
    }
  }

  /** A job's state pushed by the array: reported now if it is news; the polls carry on as before. */
  observe(job: JobObservation): void {
    if (this.#listeners.size === 0) return;
    this.#started.delete(job.id);
    this.#history.delete(job.id);
    this.#apply(job, true);
  }

  /** A task was started or stopped: follow the array's tasks again (at the next interval). */
  wake(): void {
    this.#woken = true;
    if (this.#listeners.size > 0 && this.#timer === undefined) this.#schedule(this.#intervalMs());
  }

  #schedule(ms: number): void {
    this.#woken = false;
    this.#timer = setTimeout(() => {
      this.#tick().then(
        (running) => {
          this.#timer = undefined;
          // A task we started and no poll has shown yet keeps the polls going: the array's task list can lag
          // behind the call that started it (the driver shares one GET /tasks answer for a moment).
          if (this.#listeners.size > 0 && (running || this.#woken || this.#started.size > 0))
            this.#schedule(this.#intervalMs());
        },
        () => {
          // A failed poll says nothing about what runs: try again.
          this.#timer = undefined;
          if (this.#listeners.size > 0) this.#schedule(this.#intervalMs());
        },
      );
    }, ms);
    this.#timer.unref();
  }

  /** One poll; true while some job is unfinished. */
  async #tick(): Promise<boolean> {
    const jobs = await this.#poll();
    for (const job of jobs) {
      if (this.#apply(job, false)) this.#onPolledNews?.(job);
    }
    this.#primed = true;
    // A started task that no poll shows for this long is not coming (the array dropped it): stop waiting for it.
    for (const [id, at] of this.#started) if (Date.now() - at > unseenLimitMs) this.#started.delete(id);
    return jobs.some((j) => !finishedJobStates.includes(j.jobState));
  }

  /** One job's state, from a poll or a push; true when it was news (Started or Finished reported). */
  #apply(job: JobObservation, pushed: boolean): boolean {
    const before = this.#seen.get(job.id);
    this.#seen.set(job.id, job);
    const finished = finishedJobStates.includes(job.jobState);
    const ours = this.#started.delete(job.id);
    if (before === undefined) {
      if (!pushed && !this.#primed && finished && !ours) {
        this.#history.add(job.id);
        return false;
      }
      if (job.jobState !== "New") this.#emit("Started", job);
      if (finished) this.#emit("Finished", job);
      return job.jobState !== "New";
    }
    if (finishedJobStates.includes(before.jobState)) {
      // A pushed state older than what we hold (a late indication) changes nothing.
      this.#seen.set(job.id, before);
      return false;
    }
    let news = false;
    if (before.jobState === "New" && job.jobState !== "New") {
      this.#emit("Started", job);
      news = true;
    }
    if (finished) {
      this.#emit("Finished", job);
      news = true;
    } else if (job.percentComplete !== before.percentComplete) this.#emit("Progress", job);
    return news;
  }

  #emit(kind: "Started" | "Progress" | "Finished", job: JobObservation): void {
    for (const l of this.#listeners) l({ kind, job });
  }
}
