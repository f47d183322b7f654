// An engine in front of a real one whose copies and jobs can be held in the state they were created in (our own
// port, so faking it is allowed): an array whose tasks run longer than a test looks. The embedded engine copies a
// test's few MiB in milliseconds, so "copying" and "queued" would otherwise be gone before anyone reads them.
//
// While `hold` is on, each physical copy the engine is asked for keeps answering observeCopy / observeJob /
// listCopies with the engine's own first answer (ResyncInProgress and Running when a slot was free; Initialized and
// New when `queueBehind` first filled the engine's slots with copies of the test's own, so the engine really queued
// it), and the indications of its job are kept back. release() lets the engine's current state through and
// delivers what was kept. `breakCopy` reports a copy Broken, as an array does when a copy fails under it (a failed
// disk, an aborted task): the embedded engine has no way to break one on demand.
import type {
  CallOptions,
  CopyObservation,
  CreatePhysicalCopyRequest,
  Engine,
  JobIndication,
  JobListener,
  JobObservation,
} from "../../operator/src/engine/port.ts";

export interface HoldOptions {
  /** Called (not awaited) just before each held create reaches the engine: start the copies it must queue behind. */
  readonly queueBehind?: () => Promise<unknown>;
}

export class HoldingEngine {
  readonly #copies = new Map<string, CopyObservation>();
  readonly #jobs = new Map<string, JobObservation>();
  readonly #broken = new Set<string>();
  readonly #kept: JobIndication[] = [];
  readonly #listeners = new Set<JobListener>();
  #hold: HoldOptions | undefined;

  /** From now on, physical copies are held in their first state until release(). */
  hold(options: HoldOptions = {}): void {
    this.#hold = options;
  }

  /** Lets every held copy and job show its real state, and delivers the indications kept back. */
  release(): void {
    this.#hold = undefined;
    this.#copies.clear();
    this.#jobs.clear();
    const kept = this.#kept.splice(0);
    for (const i of kept) for (const l of this.#listeners) l(i);
  }

  /** Reports the copy with this array name Broken from now on. */
  breakCopy(name: string): void {
    this.#broken.add(name);
  }

  /** The names of the copies held now. */
  held(): string[] {
    return [...this.#copies.keys()];
  }

  wrap(inner: Engine): Engine {
    const view = (c: CopyObservation | undefined): CopyObservation | undefined => {
      if (c === undefined) return undefined;
      const shown = this.#copies.get(c.name) ?? c;
      if (!this.#broken.has(c.name) || shown.synchronization === undefined) return shown;
      return {
        ...shown,
        contentComplete: false,
        synchronization: { ...shown.synchronization, syncState: "Broken" },
      };
    };
    return new Proxy(inner, {
      get: (target, property, receiver) => {
        switch (property) {
          case "createPhysicalCopy":
            return async (request: CreatePhysicalCopyRequest, options?: CallOptions) => {
              const hold = this.#hold;
              if (hold === undefined) return target.createPhysicalCopy(request, options);
              const behind = hold.queueBehind?.();
              const created = await target.createPhysicalCopy(request, options);
              await behind;
              this.#copies.set(created.copy.name, created.copy);
              this.#jobs.set(created.job.id, created.job);
              return created;
            };
          case "observeCopy":
            return async (name: string, options?: CallOptions) => view(await target.observeCopy(name, options));
          case "listCopies":
            return async (options?: CallOptions) => (await target.listCopies(options)).map((c) => view(c) ?? c);
          case "observeJob":
            return async (id: string, options?: CallOptions) =>
              this.#jobs.get(id) ?? (await target.observeJob(id, options));
          case "subscribe":
            return (listener: JobListener) => {
              this.#listeners.add(listener);
              const stop = target.subscribe((i) => {
                if (this.#jobs.has(i.job.id)) this.#kept.push(i);
                else listener(i);
              });
              return () => {
                this.#listeners.delete(listener);
                stop();
              };
            };
          default: {
            // Bound to the engine itself: its methods reach private fields a proxy does not have.
            const value: unknown = Reflect.get(target, property, receiver);
            return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(target) : value;
          }
        }
      },
    });
  }
}
