// A cim engine's indication subscription on the provider (DOMAIN.md §2.5), in the interop namespace: a
// CIM_IndicationFilter (`SELECT * FROM CIM_InstModification WHERE SourceInstance ISA CIM_ConcreteJob`, DMTF:CQL),
// a CIM_ListenerDestinationCIMXML whose Destination is the listener's URL with this engine's secret path, and the
// CIM_IndicationSubscription that joins them.
// Ownership: the filter's and the destination's Name is "<tag>:<instance>", the tag naming the class
// (arraycopy:<class>) and the instance this engine (random, per engine). ensure() makes whatever of the three is
// missing (a provider that lost them, or never had them), and removes what an earlier engine of the same class left
// (a crash, a restart): instances whose Name carries our tag with another instance AND whose destination points at
// this operator's listener. remove() deletes this engine's three. Nothing is deleted for matching a class or an
// enumeration alone: each delete is of an instance whose own Name (or, for a subscription, whose Filter's and
// Handler's Names) we checked is ours.
import type { CimClient } from "./client.ts";
import { cim, keyText } from "./model.ts";
import { classes } from "./names.ts";
import type { InstanceName } from "./xml.ts";

export const jobQuery = "SELECT * FROM CIM_InstModification WHERE SourceInstance ISA CIM_ConcreteJob";
export const queryLanguage = "DMTF:CQL";

export interface SubscriptionOptions {
  readonly client: CimClient;
  readonly interop: string;
  /** The namespace whose jobs are watched. */
  readonly sourceNamespace: string;
  /** arraycopy:<class>: what all of one class's subscriptions carry in their Name. */
  readonly tag: string;
  /** This engine's part of the Name. */
  readonly instance: string;
  /** The Destination URL (listener URL as the array reaches it, plus this engine's secret path). */
  readonly destination: string;
  /** The listener URL alone: a destination under it is this operator's. */
  readonly listenerUrl: string;
}

/** What ensure() did: made (the names of what it created) and cleaned (earlier engines' leftovers deleted). */
export interface EnsureResult {
  readonly made: readonly string[];
  readonly cleaned: number;
}

const nameOf = (n: InstanceName): string | undefined => keyText(n, "Name");
const refName = (n: InstanceName, k: string): string | undefined => {
  const v = n.keys[k];
  return v?.kind === "ref" ? nameOf(v.ref) : undefined;
};

export class JobSubscription {
  readonly #o: SubscriptionOptions;
  readonly name: string;

  constructor(o: SubscriptionOptions) {
    this.#o = o;
    this.name = `${o.tag}:${o.instance}`;
  }

  /** True when a Name is one of this class's (ours or an earlier engine's). */
  #tagged(name: string | undefined): boolean {
    return name?.startsWith(`${this.#o.tag}:`) === true;
  }

  async ensure(signal?: AbortSignal): Promise<EnsureResult> {
    const { client, interop } = this.#o;
    const [filters, destinations, subscriptions] = await Promise.all([
      client.enumerateInstanceNames(interop, classes.filter, signal),
      client.enumerateInstances(interop, classes.destination, signal),
      client.enumerateInstanceNames(interop, classes.subscription, signal),
    ]);
    // Earlier engines of this class that reported to this listener: theirs to clean up, by their own names.
    const stale = new Set<string>();
    for (const d of destinations) {
      const n = nameOf(d.name);
      const url = d.instance.properties.Destination;
      const dest = url?.kind === "scalar" ? url.text : null;
      if (n !== undefined && n !== this.name && this.#tagged(n) && dest?.startsWith(this.#o.listenerUrl) === true)
        stale.add(n);
    }
    let cleaned = 0;
    for (const s of subscriptions) {
      const f = refName(s, "Filter");
      const h = refName(s, "Handler");
      if (h !== undefined && stale.has(h) && this.#tagged(f)) {
        await client.deleteInstance(interop, s, signal);
        cleaned++;
      }
    }
    for (const d of destinations)
      if (stale.has(nameOf(d.name) ?? "")) {
        await client.deleteInstance(interop, d.name, signal);
        cleaned++;
      }
    for (const f of filters)
      if (stale.has(nameOf(f) ?? "")) {
        await client.deleteInstance(interop, f, signal);
        cleaned++;
      }

    const made: string[] = [];
    let filter = filters.find((f) => nameOf(f) === this.name);
    if (filter === undefined) {
      filter = await client.createInstance(
        interop,
        {
          className: classes.filter,
          properties: {
            Name: cim.str(this.name),
            Query: cim.str(jobQuery),
            QueryLanguage: cim.str(queryLanguage),
            SourceNamespaces: cim.strs([this.#o.sourceNamespace]),
          },
        },
        signal,
      );
      made.push(classes.filter);
    }
    let handler = destinations.find((d) => nameOf(d.name) === this.name)?.name;
    if (handler === undefined) {
      handler = await client.createInstance(
        interop,
        {
          className: classes.destination,
          properties: {
            Name: cim.str(this.name),
            Destination: cim.str(this.#o.destination),
            // 2 Permanent: kept by the provider across its restarts until we delete it.
            PersistenceType: cim.u16(2),
          },
        },
        signal,
      );
      made.push(classes.destination);
    }
    const joined = subscriptions.some((s) => refName(s, "Filter") === this.name && refName(s, "Handler") === this.name);
    if (!joined) {
      await client.createInstance(
        interop,
        {
          className: classes.subscription,
          properties: {
            Filter: cim.ref(filter),
            Handler: cim.ref(handler),
            // 2 Enabled.
            SubscriptionState: cim.u16(2),
          },
        },
        signal,
      );
      made.push(classes.subscription);
    }
    return { made, cleaned };
  }

  /** Deletes this engine's subscription, destination and filter, each found by its name first. */
  async remove(signal?: AbortSignal): Promise<number> {
    const { client, interop } = this.#o;
    let removed = 0;
    for (const s of await client.enumerateInstanceNames(interop, classes.subscription, signal))
      if (refName(s, "Handler") === this.name && refName(s, "Filter") === this.name) {
        await client.deleteInstance(interop, s, signal);
        removed++;
      }
    for (const cls of [classes.destination, classes.filter])
      for (const n of await client.enumerateInstanceNames(interop, cls, signal))
        if (nameOf(n) === this.name) {
          await client.deleteInstance(interop, n, signal);
          removed++;
        }
    return removed;
  }
}
