// Prometheus metrics: reconciles, errors and durations per controller, work-queue depth and latency, engine
// operation latency, and copies / jobs by CIM state (computed from the caches at scrape time).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import type { ControllerObserver } from "../kube/controller.ts";
import type { QueueObserver } from "../kube/workqueue.ts";

const latencyBuckets = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

export interface StateCounts {
  /** Copies by kind and SyncState ("None" when the array reports none). */
  copies(): ReadonlyMap<string, number>;
  /** Jobs by JobState. */
  jobs(): ReadonlyMap<string, number>;
}

export class Metrics {
  readonly registry = new Registry();
  readonly #reconciles = new Counter({
    name: "arraycopy_reconcile_total",
    help: "Reconciles by controller and outcome (done, after, error, terminal).",
    labelNames: ["controller", "outcome"],
    registers: [this.registry],
  });
  readonly #reconcileSeconds = new Histogram({
    name: "arraycopy_reconcile_duration_seconds",
    help: "Reconcile duration by controller.",
    labelNames: ["controller"],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly #depth = new Gauge({
    name: "arraycopy_workqueue_depth",
    help: "Keys waiting in a controller's queue.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly #adds = new Counter({
    name: "arraycopy_workqueue_adds_total",
    help: "Keys added to a controller's queue.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly #retries = new Counter({
    name: "arraycopy_workqueue_retries_total",
    help: "Rate-limited re-adds after a failed reconcile.",
    labelNames: ["controller"],
    registers: [this.registry],
  });
  readonly #queueSeconds = new Histogram({
    name: "arraycopy_workqueue_queue_duration_seconds",
    help: "Time a key waited before a worker took it.",
    labelNames: ["controller"],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly #workSeconds = new Histogram({
    name: "arraycopy_workqueue_work_duration_seconds",
    help: "Time from taking a key to finishing it.",
    labelNames: ["controller"],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly #engineSeconds = new Histogram({
    name: "arraycopy_engine_operation_duration_seconds",
    help: "Engine call latency by driver, operation and outcome.",
    labelNames: ["driver", "operation", "outcome"],
    buckets: latencyBuckets,
    registers: [this.registry],
  });
  readonly #leader = new Gauge({
    name: "arraycopy_leader",
    help: "1 while this replica holds the leader Lease.",
    registers: [this.registry],
  });
  readonly #malformed = new Counter({
    name: "arraycopy_array_records_skipped_total",
    help: "Malformed records in an array's list answers that a driver skipped, by driver and kind.",
    labelNames: ["driver", "kind"],
    registers: [this.registry],
  });

  constructor(states: StateCounts) {
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "arraycopy_copies",
      help: "Copies by kind and CIM SyncState.",
      labelNames: ["kind", "sync_state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [k, n] of states.copies()) {
          const [kind = "", syncState = ""] = k.split("/");
          this.set({ kind, sync_state: syncState }, n);
        }
      },
    });
    new Gauge({
      name: "arraycopy_jobs",
      help: "CopyJobs by CIM JobState.",
      labelNames: ["job_state"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [state, n] of states.jobs()) this.set({ job_state: state }, n);
      },
    });
  }

  controllerObserver(): ControllerObserver {
    return {
      reconciled: (controller, outcome, ms) => {
        this.#reconciles.inc({ controller, outcome });
        this.#reconcileSeconds.observe({ controller }, ms / 1000);
      },
    };
  }

  queueObserver(controller: string): QueueObserver {
    return {
      depth: (n) => {
        this.#depth.set({ controller }, n);
      },
      add: () => {
        this.#adds.inc({ controller });
      },
      retry: () => {
        this.#retries.inc({ controller });
      },
      queueLatency: (ms) => {
        this.#queueSeconds.observe({ controller }, ms / 1000);
      },
      workDuration: (ms) => {
        this.#workSeconds.observe({ controller }, ms / 1000);
      },
    };
  }

  engineCall(driver: string, operation: string, outcome: "ok" | "error", ms: number): void {
    this.#engineSeconds.observe({ driver, operation, outcome }, ms / 1000);
  }

  recordSkipped(driver: string, kind: string): void {
    this.#malformed.inc({ driver, kind });
  }

  setLeader(leading: boolean): void {
    this.#leader.set(leading ? 1 : 0);
  }
}
