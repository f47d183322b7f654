// Events: an events.k8s.io/v1 recorder that folds repeats into a series, as client-go's tools/events does.
//
// Owns: the Events the operator writes and a bounded in-memory index of recent ones. A repeat — same regarding
// object, type, reason, action and note within the window (6 minutes by default, client-go's series window) —
// patches the existing Event's `series` (count, lastObservedTime) instead of creating another, so a copy that
// fails every backoff step does not flood the namespace. The note is part of the key on purpose: a different array
// error text is news and gets its own Event.
//
// Invariants: recording never throws (events are best effort; failures go to `onError`); repeats of one key are
// written one after another, so a burst creates one Event and then patches it; MicroTime fields are V1MicroTime
// (six fractional digits, which the apiserver requires); a note is cut to the API's 1 kB limit.

import {
  EventsV1Event,
  EventsV1EventSeries,
  PatchStrategy,
  V1MicroTime,
  V1ObjectMeta,
  V1ObjectReference,
} from "@kubernetes/client-node";
import type { EventsV1Api } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";
import { isNotFound } from "./errors.ts";
import { make } from "./models.ts";
import { resourcePath, type RestWriter } from "./rest.ts";

export type EventType = "Normal" | "Warning";

/** The object an Event is about (a plain V1ObjectReference). */
export interface ObjectRef {
  readonly apiVersion?: string;
  readonly kind?: string;
  readonly namespace?: string;
  readonly name?: string;
  readonly uid?: string;
}

export interface EventInput {
  readonly regarding: ObjectRef;
  readonly type: EventType;
  /** PascalCase, from the controller's closed set. */
  readonly reason: string;
  /** What was done or failed, e.g. "Create", "Delete", "Resync". */
  readonly action: string;
  readonly note: string;
  readonly related?: ObjectRef;
}

/** What the index remembers of an Event already written. */
export interface SeriesEntry {
  readonly namespace: string;
  readonly name: string;
  /** 1 for a singleton Event; the series count otherwise. */
  readonly count: number;
  readonly lastObserved: number;
}

export type FoldDecision =
  | { readonly kind: "create" }
  | {
      readonly kind: "patch";
      readonly namespace: string;
      readonly name: string;
      readonly series: { readonly count: number; readonly lastObservedTime: number };
    };

export const defaultSeriesWindowMs = 6 * 60_000;
const maxNoteBytes = 1024;

/** The identity of "the same event again". */
export function foldKey(e: EventInput): string {
  const r = e.regarding;
  const who = r.uid ?? `${r.apiVersion ?? ""}/${r.kind ?? ""}/${r.namespace ?? ""}/${r.name ?? ""}`;
  return JSON.stringify([who, e.type, e.reason, e.action, e.note]);
}

/** Pure: create a new Event, or extend the series of the one seen within the window. */
export function fold(previous: SeriesEntry | undefined, now: number, windowMs: number): FoldDecision {
  if (previous === undefined || now - previous.lastObserved > windowMs) return { kind: "create" };
  return {
    kind: "patch",
    namespace: previous.namespace,
    name: previous.name,
    series: { count: previous.count + 1, lastObservedTime: now },
  };
}

/** Cuts `note` to at most 1024 UTF-8 bytes without splitting a character. */
export function truncateNote(note: string): string {
  if (Buffer.byteLength(note, "utf8") <= maxNoteBytes) return note;
  let out = "";
  let bytes = 0;
  for (const ch of note) {
    const size = Buffer.byteLength(ch, "utf8");
    if (bytes + size > maxNoteBytes - 3) break;
    out += ch;
    bytes += size;
  }
  return `${out}…`;
}

export interface Reporter {
  /** e.g. "arraycopy.io/operator". */
  readonly controller: string;
  /** This replica, e.g. the pod name. */
  readonly instance: string;
}

/** Pure: the Event to create for `input` at `now`. Cluster-scoped objects' Events go to "default". */
export function buildEvent(input: EventInput, reporter: Reporter, now: number, seq: number): EventsV1Event {
  const namespace = input.regarding.namespace ?? "default";
  // client-go names Events "<object>.<hex nanoseconds>"; the sequence keeps two in one millisecond apart.
  const nanos = BigInt(now) * 1_000_000n + BigInt(seq % 1_000_000);
  const event = make(EventsV1Event, {
    apiVersion: "events.k8s.io/v1",
    kind: "Event",
    metadata: make(V1ObjectMeta, { name: `${input.regarding.name ?? "object"}.${nanos.toString(16)}`, namespace }),
    eventTime: new V1MicroTime(now),
    reportingController: reporter.controller,
    reportingInstance: reporter.instance,
    regarding: make(V1ObjectReference, input.regarding),
    type: input.type,
    reason: input.reason,
    action: input.action,
    note: truncateNote(input.note),
  });
  if (input.related !== undefined) event.related = make(V1ObjectReference, input.related);
  return event;
}

/** Where Events go: events.k8s.io/v1 through client-node, or anything else in tests. */
export interface EventSink {
  create(namespace: string, event: EventsV1Event): Promise<void>;
  patchSeries(namespace: string, name: string, series: EventsV1EventSeries): Promise<void>;
}

export function eventsApiSink(api: EventsV1Api): EventSink {
  return {
    async create(namespace, body) {
      await api.createNamespacedEvent({ namespace, body });
    },
    async patchSeries(namespace, name, series) {
      // JSON Patch (the generated default): `add` sets /series whether or not the Event has one yet.
      await api.patchNamespacedEvent({ namespace, name, body: [{ op: "add", path: "/series", value: series }] });
    },
  };
}

const eventsResource = { group: "events.k8s.io", version: "v1", plural: "events" };

/**
 * The same writes as eventsApiSink, sent by the RestWriter. The body is the model's JSON.stringify: client-node's
 * Event models name their properties as the wire does, and V1MicroTime prints microseconds (events.test.ts pins
 * that this equals client-node's own serialization).
 */
export function restEventSink(rest: RestWriter): EventSink {
  return {
    create: (namespace, body) =>
      rest.send({
        method: "POST",
        path: resourcePath(eventsResource, namespace),
        contentType: "application/json",
        body: JSON.stringify(body),
      }),
    patchSeries: (namespace, name, series) =>
      rest.send({
        method: "PATCH",
        path: resourcePath(eventsResource, namespace, name),
        contentType: PatchStrategy.JsonPatch,
        body: JSON.stringify([{ op: "add", path: "/series", value: series }]),
      }),
  };
}

export interface RecorderOptions {
  readonly sink: EventSink;
  readonly clock: Clock;
  readonly reporter: Reporter;
  readonly windowMs?: number;
  /** How many distinct recent Events to remember; the oldest are forgotten first. */
  readonly maxEntries?: number;
  readonly onError?: (e: unknown, input: EventInput) => void;
}

export class EventRecorder {
  readonly #opts: RecorderOptions;
  readonly #windowMs: number;
  readonly #maxEntries: number;
  /** Insertion-ordered, so the first key is the least recently written. */
  readonly #seen = new Map<string, SeriesEntry>();
  /** Per-key tail of in-flight writes, so repeats of one key are written in order. */
  readonly #tails = new Map<string, Promise<void>>();
  #seq = 0;

  constructor(opts: RecorderOptions) {
    this.#opts = opts;
    this.#windowMs = opts.windowMs ?? defaultSeriesWindowMs;
    this.#maxEntries = opts.maxEntries ?? 4096;
  }

  /** Writes or folds one Event. Never rejects. */
  record(input: EventInput): Promise<void> {
    const key = foldKey(input);
    const previous = this.#tails.get(key) ?? Promise.resolve();
    const next = previous.then(() => this.#write(key, input));
    this.#tails.set(key, next);
    return next.finally(() => {
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    });
  }

  async #write(key: string, input: EventInput): Promise<void> {
    const now = this.#opts.clock.now();
    const decision = fold(this.#seen.get(key), now, this.#windowMs);
    try {
      if (decision.kind === "patch") {
        try {
          const series = make(EventsV1EventSeries, {
            count: decision.series.count,
            lastObservedTime: new V1MicroTime(decision.series.lastObservedTime),
          });
          await this.#opts.sink.patchSeries(decision.namespace, decision.name, series);
          this.#remember(key, {
            namespace: decision.namespace,
            name: decision.name,
            count: decision.series.count,
            lastObserved: now,
          });
          return;
        } catch (e: unknown) {
          // The Event was garbage-collected (the apiserver's event TTL): start a new one.
          if (!isNotFound(e)) throw e;
        }
      }
      const event = buildEvent(input, this.#opts.reporter, now, this.#seq++);
      const namespace = event.metadata?.namespace ?? "default";
      await this.#opts.sink.create(namespace, event);
      this.#remember(key, { namespace, name: event.metadata?.name ?? "", count: 1, lastObserved: now });
    } catch (e: unknown) {
      this.#opts.onError?.(e, input);
    }
  }

  #remember(key: string, entry: SeriesEntry): void {
    this.#seen.delete(key);
    this.#seen.set(key, entry);
    while (this.#seen.size > this.#maxEntries) {
      const oldest = this.#seen.keys().next();
      if (oldest.done === true) break;
      this.#seen.delete(oldest.value);
    }
  }
}
