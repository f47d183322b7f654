// Pushed job indications for one cim engine (issue 16 §3, DOMAIN.md §2.5): it registers with the operator's
// listener (listener.ts), keeps the provider's subscription (subscription.ts) made and renewed, turns each
// CIM_InstModification whose SourceInstance is a job into the port's job (validated as a GetInstance answer would
// be) for the engine's poller, and tells whether indications arrive.
// An indication only wakes: the controllers read the job from the provider when they are woken, so a forged or
// stale indication costs a read and changes nothing.
// "Not arriving" is noticed from the slow poll: when a poll reports a job's start or end that no indication
// reported within missedAfterMs, the array is not delivering (the listener unreachable from it, a firewall, a
// provider that dropped the subscription between renewals). The next indication that arrives clears it.
import { randomBytes } from "node:crypto";
import type { IndicationStatus, JobObservation } from "../port.ts";
import { messageOf } from "../errors.ts";
import type { CimClient, CimLogger } from "./client.ts";
import type { IndicationListener, Registration } from "./listener.ts";
import { plain } from "./model.ts";
import { jobOfInstance } from "./reader.ts";
import { JobSubscription } from "./subscription.ts";
import { parseEmbedded, type Instance } from "./xml.ts";

export interface CimIndicationOptions {
  readonly listener: IndicationListener;
  /** The listener's URL as the array reaches it (https://node:30989): the Destination is this plus a secret path. */
  readonly listenerUrl: string;
  /** What the class's subscriptions' Names start with: arraycopy:<class>. */
  readonly tag: string;
  /** How often the subscription is checked (and re-made if the provider lost it); default 60 s. */
  readonly renewMs?: number;
  /** The job poll while subscribed (the safety net for missed indications); default 30 s. */
  readonly slowPollMs?: number;
  /** How long after a poll saw a job change an indication may still come; default 10 s. */
  readonly missedAfterMs?: number;
}

type IndicationState = IndicationStatus["state"];

export interface IndicationContext {
  readonly client: CimClient;
  readonly interop: string;
  readonly namespace: string;
  readonly logger?: CimLogger | undefined;
  /** A job state an indication carried. */
  readonly onJob: (job: JobObservation) => void;
}

/** The job an indication concerns, or undefined when it is about something else. Throws when malformed. */
export function jobOfIndication(indication: Instance): JobObservation | undefined {
  if (!/InstModification$/i.test(indication.className)) return undefined;
  const source = plain(indication).SourceInstance;
  if (typeof source !== "string") throw new Error(`${indication.className} has no SourceInstance`);
  const job = parseEmbedded(source);
  if (!/ConcreteJob$/i.test(job.className)) return undefined;
  return jobOfInstance(job);
}

export class CimIndications {
  readonly #o: CimIndicationOptions;
  readonly #c: IndicationContext;
  readonly #subscription: JobSubscription;
  #registration: Registration | undefined;
  #timer: NodeJS.Timeout | undefined;
  #ensuring: Promise<void> | undefined;
  #closed = false;
  #state: IndicationState = "Subscribing";
  #problem = "";
  #received = 0;
  readonly #pending = new Map<string, NodeJS.Timeout>();
  readonly #destination: string;

  constructor(o: CimIndicationOptions, c: IndicationContext) {
    this.#o = o;
    this.#c = c;
    this.#registration = o.listener.register((i) => {
      this.#indication(i);
    });
    const base = o.listenerUrl.replace(/\/+$/, "");
    this.#destination = `${base}${this.#registration.path}`;
    this.#subscription = new JobSubscription({
      client: c.client,
      interop: c.interop,
      sourceNamespace: c.namespace,
      tag: o.tag,
      instance: randomBytes(6).toString("hex"),
      destination: this.#destination,
      listenerUrl: base,
    });
  }

  get slowPollMs(): number {
    return this.#o.slowPollMs ?? 30_000;
  }

  /** Subscribes now and then every renewMs; again does nothing. */
  start(): void {
    if (this.#ensuring !== undefined || this.#timer !== undefined || this.#closed) return;
    this.#renew();
  }

  get arriving(): boolean {
    return this.#state === "Arriving";
  }

  status(): IndicationStatus {
    const where = this.#destination.replace(/\/cimlistener\/.*$/, "");
    switch (this.#state) {
      case "Subscribing":
        return { state: this.#state, message: `subscribing the array's job indications to ${where}` };
      case "Arriving":
        return {
          state: this.#state,
          message: `job indications subscribed to ${where}; ${this.#received} received`,
        };
      case "NotSubscribed":
        return { state: this.#state, message: `cannot subscribe to job indications: ${this.#problem}` };
      case "NotArriving":
        return { state: this.#state, message: this.#problem };
    }
  }

  /** A poll reported this job's start or end: an indication should have come, or should come soon. */
  polledNews(job: JobObservation): void {
    if (this.#state !== "Arriving" || this.#pending.has(job.id)) return;
    const wait = this.#o.missedAfterMs ?? 10_000;
    const t = setTimeout(() => {
      this.#pending.delete(job.id);
      if (this.#state !== "Arriving") return;
      this.#state = "NotArriving";
      this.#problem =
        `indications are not arriving: the array did not deliver the indication of job ${job.id} ` +
        `(${job.jobState}) within ${Math.round(wait / 1000)}s of the poll that saw it; jobs are followed by ` +
        `polling every ${Math.round(this.slowPollMs / 1000)}s`;
      this.#c.logger?.("warn", this.#problem, { job: job.id });
    }, wait);
    t.unref();
    this.#pending.set(job.id, t);
  }

  /** Stops, and removes the provider's subscription (after any subscribe still under way). */
  async close(): Promise<void> {
    this.#closed = true;
    clearTimeout(this.#timer);
    this.#timer = undefined;
    for (const t of this.#pending.values()) clearTimeout(t);
    this.#pending.clear();
    this.#registration?.unregister();
    this.#registration = undefined;
    await this.#ensuring;
    try {
      await this.#subscription.remove(AbortSignal.timeout(10_000));
    } catch (e: unknown) {
      this.#c.logger?.("warn", `cannot remove the indication subscription ${this.#subscription.name}`, {
        err: messageOf(e),
      });
    }
  }

  #renew(): void {
    this.#ensuring = this.#subscription
      .ensure(AbortSignal.timeout(30_000))
      .then(
        (r) => {
          if (this.#state === "Subscribing" || this.#state === "NotSubscribed") this.#state = "Arriving";
          if (r.made.length > 0 || r.cleaned > 0)
            this.#c.logger?.("info", "indication subscription made", {
              name: this.#subscription.name,
              made: r.made,
              cleaned: r.cleaned,
            });
        },
        (e: unknown) => {
          this.#state = "NotSubscribed";
          this.#problem = messageOf(e);
          this.#c.logger?.("warn", `cannot subscribe to job indications: ${this.#problem}`);
        },
      )
      .finally(() => {
        this.#ensuring = undefined;
        if (this.#closed) return;
        this.#timer = setTimeout(() => {
          this.#timer = undefined;
          this.#renew();
        }, this.#o.renewMs ?? 60_000);
        this.#timer.unref();
      });
  }

  #indication(i: Instance): void {
    let job: JobObservation | undefined;
    try {
      job = jobOfIndication(i);
    } catch (e: unknown) {
      this.#c.logger?.("warn", `ignored a malformed indication: ${messageOf(e)}`);
      return;
    }
    if (job === undefined) return;
    this.#received++;
    clearTimeout(this.#pending.get(job.id));
    this.#pending.delete(job.id);
    if (this.#state === "NotArriving") this.#state = "Arriving";
    this.#c.onJob(job);
  }
}
