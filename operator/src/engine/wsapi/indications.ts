// Job indications over WSAPI: the array pushes nothing, so while someone subscribes the engine polls GET /tasks
// and turns changes into Started / Progress / Finished (capabilities().indications is false: they come late by
// up to one poll and a job shorter than a poll may show only Finished). Tasks already finished at the first poll
// are history, not news, and are not reported.
import type { JobListener, JobObservation } from "../port.ts";
import { finishedJobStates } from "../port.ts";

export class TaskPoller {
  readonly #listeners = new Set<JobListener>();
  readonly #seen = new Map<string, JobObservation>();
  readonly #poll: () => Promise<readonly JobObservation[]>;
  readonly #intervalMs: number;
  #timer: NodeJS.Timeout | undefined;
  #primed = false;

  constructor(poll: () => Promise<readonly JobObservation[]>, intervalMs: number) {
    this.#poll = poll;
    this.#intervalMs = intervalMs;
  }

  subscribe(listener: JobListener): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) this.#schedule();
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
  }

  #schedule(): void {
    this.#timer = setTimeout(() => {
      this.#tick().then(
        () => {
          if (this.#listeners.size > 0) this.#schedule();
        },
        () => {
          if (this.#listeners.size > 0) this.#schedule();
        },
      );
    }, this.#primed ? this.#intervalMs : 0);
    this.#timer.unref();
  }

  async #tick(): Promise<void> {
    const jobs = await this.#poll();
    for (const job of jobs) {
      const before = this.#seen.get(job.id);
      this.#seen.set(job.id, job);
      const finished = finishedJobStates.includes(job.jobState);
      if (before === undefined) {
        if (!this.#primed && finished) continue;
        if (job.jobState !== "New") this.#emit("Started", job);
        if (finished) this.#emit("Finished", job);
        continue;
      }
      if (finishedJobStates.includes(before.jobState)) continue;
      if (before.jobState === "New" && job.jobState !== "New") this.#emit("Started", job);
      if (finished) this.#emit("Finished", job);
      else if (job.percentComplete !== before.percentComplete) this.#emit("Progress", job);
    }
    this.#primed = true;
  }

  #emit(kind: "Started" | "Progress" | "Finished", job: JobObservation): void {
    for (const l of this.#listeners) l({ kind, job });
  }
}
