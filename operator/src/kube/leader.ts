// Leader election on a coordination.k8s.io/v1 Lease, with client-go's leaderelection semantics.
//
// Owns: one Lease. The holder renews it every retryPeriod; a standby polls every retryPeriod (jittered) and takes
// the Lease when it is free (holderIdentity empty, as a clean shutdown leaves it) or expired. A leader that cannot
// renew for renewDeadline stops leading before its Lease can expire under it (renewDeadline < leaseDuration).
//
// Invariants:
// - Expiry is judged by the local time at which this replica last saw the Lease change, plus the holder's
//   leaseDurationSeconds — never by comparing the holder's renewTime with our clock, so clock skew between nodes
//   cannot hand the Lease to two replicas.
// - Every write carries the resourceVersion it was computed from (or is a create), so of two replicas racing for
//   an expired Lease exactly one wins; the loser sees a conflict and stays standby.
// - A standby takes over at most leaseDuration + about two retryPeriods after the leader's last renewal, and at
//   once (next poll) after a clean release.
// The decision is the pure `decide`; the loop only reads, writes and sleeps.

import { V1Lease, V1LeaseSpec, V1MicroTime, V1ObjectMeta } from "@kubernetes/client-node";
import type { CoordinationV1Api } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";
import { isNotFound } from "./errors.ts";
import { make, toMillis } from "./models.ts";

export interface LeaseRecord {
  /** "" when released. */
  readonly holderIdentity: string;
  readonly leaseDurationSeconds: number;
  readonly acquireTime: number;
  readonly renewTime: number;
  readonly leaseTransitions: number;
}

export interface StoredLease {
  readonly record: LeaseRecord;
  readonly resourceVersion: string;
}

/** What this replica knows of the Lease: the last version read and when (locally) it last changed. */
export interface Observation {
  readonly lease: StoredLease;
  readonly observedAt: number;
}

/** Pure: a new read replaces the observation; its time moves only when the Lease actually changed. */
export function observe(previous: Observation | undefined, read: StoredLease, now: number): Observation {
  if (previous?.lease.resourceVersion === read.resourceVersion) return { lease: read, observedAt: previous.observedAt };
  return { lease: read, observedAt: now };
}

export type LeaderDecision =
  | { readonly kind: "create"; readonly record: LeaseRecord }
  | { readonly kind: "update"; readonly record: LeaseRecord; readonly resourceVersion: string }
  | { readonly kind: "follow"; readonly holder: string; readonly expiresAt: number };

export interface DecideInput {
  readonly identity: string;
  readonly now: number;
  readonly leaseDurationSeconds: number;
  /** undefined: the Lease does not exist. */
  readonly observation: Observation | undefined;
}

/** Pure: create, take, renew — or follow the current holder until its Lease expires. */
export function decide(input: DecideInput): LeaderDecision {
  const { identity, now, leaseDurationSeconds, observation } = input;
  if (observation === undefined) {
    return {
      kind: "create",
      record: { holderIdentity: identity, leaseDurationSeconds, acquireTime: now, renewTime: now, leaseTransitions: 0 },
    };
  }
  const { record, resourceVersion } = observation.lease;
  if (record.holderIdentity === identity) {
    return { kind: "update", resourceVersion, record: { ...record, leaseDurationSeconds, renewTime: now } };
  }
  const expiresAt = observation.observedAt + record.leaseDurationSeconds * 1000;
  if (record.holderIdentity !== "" && now < expiresAt) {
    return { kind: "follow", holder: record.holderIdentity, expiresAt };
  }
  return {
    kind: "update",
    resourceVersion,
    record: {
      holderIdentity: identity,
      leaseDurationSeconds,
      acquireTime: now,
      renewTime: now,
      leaseTransitions: record.leaseTransitions + 1,
    },
  };
}

/** Pure: the record a leader writes when it steps down, so a standby need not wait for expiry. */
export function released(record: LeaseRecord, now: number): LeaseRecord {
  return { ...record, holderIdentity: "", leaseDurationSeconds: 1, acquireTime: now, renewTime: now };
}

/** The Lease as this module needs it; `create`/`update` reject on a lost race (409). */
export interface LeaseStore {
  get(): Promise<StoredLease | undefined>;
  create(record: LeaseRecord): Promise<StoredLease>;
  update(record: LeaseRecord, resourceVersion: string): Promise<StoredLease>;
}

export interface ElectionTiming {
  /** How long a Lease holds without renewal (client-go default 15 s). */
  readonly leaseDurationMs: number;
  /** How long a leader keeps trying to renew before it gives up (10 s). Must be < leaseDurationMs. */
  readonly renewDeadlineMs: number;
  /** Poll and renew interval (2 s). */
  readonly retryPeriodMs: number;
}

export const defaultElectionTiming: ElectionTiming = {
  leaseDurationMs: 15_000,
  renewDeadlineMs: 10_000,
  retryPeriodMs: 2_000,
};

export interface ElectorOptions {
  readonly identity: string;
  readonly store: LeaseStore;
  readonly clock: Clock;
  readonly timing?: ElectionTiming;
  /**
   * Leadership began; `signal` aborts when it ends. Start controllers here. A returned promise is awaited after
   * `signal` aborts and before the Lease is released, so in-flight work finishes before a standby can take over.
   */
  readonly onStartedLeading: (signal: AbortSignal) => void | Promise<void>;
  /** Leadership ended (lost or released). */
  readonly onStoppedLeading: () => void;
  readonly onNewLeader?: (identity: string) => void;
  readonly onError?: (e: unknown) => void;
  /** In [0, 1); spreads standbys' polls (client-go jitter factor 1.2). Injected for deterministic tests. */
  readonly random?: () => number;
}

export class LeaderElector {
  readonly #o: ElectorOptions;
  readonly #timing: ElectionTiming;
  #observation: Observation | undefined;
  #leading = false;
  #lastLeader = "";

  constructor(opts: ElectorOptions) {
    const timing = opts.timing ?? defaultElectionTiming;
    if (!(timing.renewDeadlineMs < timing.leaseDurationMs) || !(timing.retryPeriodMs < timing.renewDeadlineMs)) {
      throw new Error("invalid leader election timing: need retryPeriod < renewDeadline < leaseDuration");
    }
    this.#o = opts;
    this.#timing = timing;
  }

  isLeader(): boolean {
    return this.#leading;
  }

  /**
   * Campaigns and leads until `signal` aborts (then releases the Lease) or leadership is lost. Resolves when done;
   * after a loss the process should exit and restart, as client-go's callers do.
   */
  async run(signal: AbortSignal): Promise<void> {
    while (!signal.aborted) {
      if (await this.#tryAcquireOrRenew()) break;
      const jitter = 1 + 1.2 * (this.#o.random ?? Math.random)();
      await this.#o.clock.sleep(this.#timing.retryPeriodMs * jitter, signal);
    }
    if (signal.aborted) return;
    await this.#lead(signal);
  }

  async #lead(signal: AbortSignal): Promise<void> {
    const leadership = new AbortController();
    this.#leading = true;
    const work = this.#o.onStartedLeading(leadership.signal);
    let lastRenew = this.#o.clock.now();
    while (await this.#o.clock.sleep(this.#timing.retryPeriodMs, signal)) {
      if (await this.#tryAcquireOrRenew()) {
        lastRenew = this.#o.clock.now();
      } else if (
        this.#lastLeader !== this.#o.identity ||
        this.#o.clock.now() - lastRenew >= this.#timing.renewDeadlineMs
      ) {
        // Someone else holds the Lease (seen, not guessed): step down now rather than at the deadline.
        break;
      }
    }
    leadership.abort();
    await work;
    this.#leading = false;
    this.#o.onStoppedLeading();
    if (signal.aborted) await this.#release();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#o.clock.now();
    try {
      const read = await this.#o.store.get();
      this.#observation = read === undefined ? undefined : observe(this.#observation, read, now);
      const leaseDurationSeconds = Math.ceil(this.#timing.leaseDurationMs / 1000);
      const d = decide({ identity: this.#o.identity, now, leaseDurationSeconds, observation: this.#observation });
      switch (d.kind) {
        case "follow":
          this.#noteLeader(d.holder);
          return false;
        case "create":
          this.#observation = { lease: await this.#o.store.create(d.record), observedAt: now };
          break;
        case "update":
          this.#observation = { lease: await this.#o.store.update(d.record, d.resourceVersion), observedAt: now };
          break;
      }
      this.#noteLeader(this.#o.identity);
      return true;
    } catch (e: unknown) {
      this.#o.onError?.(e);
      return false;
    }
  }

  async #release(): Promise<void> {
    const current = this.#observation;
    if (current?.lease.record.holderIdentity !== this.#o.identity) return;
    try {
      const lease = await this.#o.store.update(
        released(current.lease.record, this.#o.clock.now()),
        current.lease.resourceVersion,
      );
      this.#observation = { lease, observedAt: this.#o.clock.now() };
    } catch (e: unknown) {
      // The Lease then simply expires; a standby takes over after leaseDuration.
      this.#o.onError?.(e);
    }
  }

  #noteLeader(identity: string): void {
    if (identity === this.#lastLeader) return;
    this.#lastLeader = identity;
    this.#o.onNewLeader?.(identity);
  }
}

function fromLease(lease: V1Lease): StoredLease {
  const spec = lease.spec;
  return {
    resourceVersion: lease.metadata?.resourceVersion ?? "",
    record: {
      holderIdentity: spec?.holderIdentity ?? "",
      leaseDurationSeconds: spec?.leaseDurationSeconds ?? 0,
      acquireTime: toMillis(spec?.acquireTime) ?? 0,
      renewTime: toMillis(spec?.renewTime) ?? 0,
      leaseTransitions: spec?.leaseTransitions ?? 0,
    },
  };
}

function toLease(namespace: string, name: string, record: LeaseRecord, resourceVersion?: string): V1Lease {
  const metadata = make(
    V1ObjectMeta,
    resourceVersion === undefined ? { namespace, name } : { namespace, name, resourceVersion },
  );
  const spec = make(V1LeaseSpec, {
    holderIdentity: record.holderIdentity,
    leaseDurationSeconds: record.leaseDurationSeconds,
    acquireTime: new V1MicroTime(record.acquireTime),
    renewTime: new V1MicroTime(record.renewTime),
    leaseTransitions: record.leaseTransitions,
  });
  return make(V1Lease, { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata, spec });
}

/** A LeaseStore over client-node; `replace` with the resourceVersion gives the optimistic concurrency. */
export function leaseStore(api: CoordinationV1Api, namespace: string, name: string): LeaseStore {
  return {
    async get() {
      try {
        return fromLease(await api.readNamespacedLease({ namespace, name }));
      } catch (e: unknown) {
        if (isNotFound(e)) return undefined;
        throw e;
      }
    },
    async create(record) {
      return fromLease(await api.createNamespacedLease({ namespace, body: toLease(namespace, name, record) }));
    },
    async update(record, resourceVersion) {
      return fromLease(
        await api.replaceNamespacedLease({ namespace, name, body: toLease(namespace, name, record, resourceVersion) }),
      );
    },
  };
}
