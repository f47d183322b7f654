// Engine job indications as a source of keys (DOMAIN.md §2.5: started, progress, finished). Every engine the
// operator uses is followed once; each indication wakes the CopyJob whose status records the array job, and the
// copy the job acts on, so a job's progress and end reach status at once instead of at the next poll. The
// controllers' own polls of running work stay, slowly, as a safety resync (an indication can be lost with a
// connection, or come late from an engine that polls its array).
//
// Started and Finished always wake; Progress wakes at most once a second per job (a copy may report every
// percent within a second, and each wake may write status): progress in status is at most a second late.
//
// Keys are "<job id>\n<copy array name>"; the watches' maps below turn them into object keys with a scan of the
// cache (job ids are only unique per engine: a job of the same id on another class's array wakes a key for
// nothing, which costs one reconcile and changes nothing).
import type { Engine, JobIndication } from "../../engine/port.ts";
import type { KeySource } from "../../kube/controller.ts";
import type { CopyJobObject, PhysicalCopyObject, VirtualCopyObject } from "./objects.ts";

/** What the maps read of a cache. */
interface Listing<T> {
  list(): readonly T[];
}

/** How often running work is looked at when indications already wake it. */
export const safetyPollMs = 10_000;

/** The least time between two wakes of one job by its Progress indications. */
export const progressWakeMs = 1_000;

export class EngineIndications implements KeySource {
  readonly name = "engine-indications";
  readonly #listeners = new Set<(key: string) => void>();
  readonly #followed = new WeakSet<Engine>();
  /** Last Progress wake per job key, while the job runs. */
  readonly #progressAt = new Map<string, number>();
  readonly #now: () => number;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Starts following an engine's indications; again for the same engine does nothing. */
  follow(engine: Engine): void {
    if (this.#followed.has(engine)) return;
    this.#followed.add(engine);
    engine.subscribe((indication: JobIndication) => {
      const key = `${indication.job.id}\n${indication.job.copy}`;
      if (indication.kind === "Progress") {
        const now = this.#now();
        if (now - (this.#progressAt.get(key) ?? -Infinity) < progressWakeMs) return;
        this.#progressAt.set(key, now);
      } else if (indication.kind === "Finished") {
        this.#progressAt.delete(key);
      }
      for (const l of this.#listeners) l(key);
    });
  }

  onChange(listener: (key: string) => void): () => void {
    this.#listeners.add(listener);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  keys(): readonly string[] {
    return [];
  }

  waitForSync(): Promise<boolean> {
    return Promise.resolve(true);
  }
}

function parse(key: string): { readonly job: string; readonly copy: string } {
  const at = key.indexOf("\n");
  return at < 0 ? { job: key, copy: "" } : { job: key.slice(0, at), copy: key.slice(at + 1) };
}

const keyOf = (o: { metadata: { namespace?: string; name: string } }): string =>
  `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/** The CopyJobs an indication is about: those whose status records its array job. */
export function jobsOfIndication(jobs: Listing<CopyJobObject>): (key: string) => readonly string[] {
  return (key) => {
    const { job } = parse(key);
    return jobs
      .list()
      .filter((j) => j.status?.arrayJobId === job || (j.status?.members ?? []).some((m) => m.arrayJobId === job))
      .map(keyOf);
  };
}

/** The copies an indication is about: those whose array name (`arrayNameOf`) is the job's copy. */
function copiesOfIndication<T extends { metadata: { namespace?: string; name: string } }>(
  copies: Listing<T>,
  arrayNameOf: (c: T) => string | undefined,
): (key: string) => readonly string[] {
  return (key) => {
    const { copy } = parse(key);
    return copy === ""
      ? []
      : copies
          .list()
          .filter((c) => arrayNameOf(c) === copy)
          .map(keyOf);
  };
}

/** The VirtualCopies an indication is about (a restore). */
export function virtualCopiesOfIndication(copies: Listing<VirtualCopyObject>): (key: string) => readonly string[] {
  return copiesOfIndication(copies, (c) => c.status?.arrayName);
}

/** The PhysicalCopies an indication is about: those whose target is the job's copy. */
export function physicalCopiesOfIndication(copies: Listing<PhysicalCopyObject>): (key: string) => readonly string[] {
  return copiesOfIndication(copies, (c) => c.status?.targetVolume);
}
