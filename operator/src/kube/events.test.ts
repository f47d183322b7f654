import { ApiException, V1MicroTime } from "@kubernetes/client-node";
import { EventsV1EventSeries } from "@kubernetes/client-node";
import type { EventsV1Event } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { FakeClock } from "./clock.ts";
import { buildEvent, EventRecorder, fold, foldKey, truncateNote } from "./events.ts";
import { make, toJson } from "./models.ts";
import type { EventInput, EventSink } from "./events.ts";

const reporter = { controller: "arraycopy.io/operator", instance: "operator-0" };

function failed(note = "volume vol1 not found (23)", mods: Partial<EventInput> = {}): EventInput {
  return {
    regarding: { apiVersion: "arraycopy.io/v1alpha1", kind: "VirtualCopy", namespace: "ns", name: "a", uid: "uid-a" },
    type: "Warning",
    reason: "CreateFailed",
    action: "Create",
    note,
    ...mods,
  };
}

describe("fold", () => {
  const window = 360_000;
  const seen = { namespace: "ns", name: "a.1", count: 1, lastObserved: 1_000 };
  const cases: {
    name: string;
    why: string;
    previous: typeof seen | undefined;
    now: number;
    want: ReturnType<typeof fold>;
  }[] = [
    {
      name: "first occurrence",
      why: "a new event is created",
      previous: undefined,
      now: 1_000,
      want: { kind: "create" },
    },
    {
      name: "repeat within the window",
      why: "the second occurrence starts a series of two",
      previous: seen,
      now: 2_000,
      want: { kind: "patch", namespace: "ns", name: "a.1", series: { count: 2, lastObservedTime: 2_000 } },
    },
    {
      name: "repeat at the window's edge",
      why: "the window is inclusive",
      previous: { ...seen, count: 5 },
      now: 1_000 + window,
      want: { kind: "patch", namespace: "ns", name: "a.1", series: { count: 6, lastObservedTime: 1_000 + window } },
    },
    {
      name: "repeat after the window",
      why: "an old series is finished; news gets a fresh event",
      previous: seen,
      now: 1_001 + window,
      want: { kind: "create" },
    },
  ];
  for (const c of cases) {
    it(`${c.name}: ${c.why}`, () => {
      expect(fold(c.previous, c.now, window)).toEqual(c.want);
    });
  }

  it("keys on regarding, type, reason, action and note", () => {
    const base = foldKey(failed());
    expect(foldKey(failed())).toBe(base);
    expect(foldKey(failed("other text"))).not.toBe(base);
    expect(foldKey(failed(undefined, { type: "Normal" }))).not.toBe(base);
    expect(foldKey(failed(undefined, { reason: "DeleteFailed" }))).not.toBe(base);
    expect(
      foldKey(failed(undefined, { regarding: { kind: "VirtualCopy", namespace: "ns", name: "a", uid: "uid-b" } })),
    ).not.toBe(base);
  });
});

describe("buildEvent", () => {
  it("fills the events.k8s.io/v1 required fields, with a six-digit MicroTime on the wire", () => {
    const event = buildEvent(failed(), reporter, Date.UTC(2025, 0, 1, 12, 0, 0, 123), 7);
    const wire = JSON.parse(JSON.stringify(event)) as Record<string, unknown>;
    expect(wire).toMatchObject({
      apiVersion: "events.k8s.io/v1",
      kind: "Event",
      metadata: { namespace: "ns" },
      eventTime: "2025-01-01T12:00:00.123000Z",
      reportingController: "arraycopy.io/operator",
      reportingInstance: "operator-0",
      regarding: { kind: "VirtualCopy", name: "a", uid: "uid-a" },
      type: "Warning",
      reason: "CreateFailed",
      action: "Create",
      note: "volume vol1 not found (23)",
    });
    expect(event.metadata?.name).toMatch(/^a\.[0-9a-f]+$/);
  });

  it("its JSON.stringify, which restEventSink sends, is what client-node's own serializer sends", () => {
    const event = buildEvent(
      failed(undefined, { related: { kind: "CopyJob", namespace: "ns", name: "j", uid: "uid-j" } }),
      reporter,
      Date.UTC(2025, 0, 1, 12, 0, 0, 123),
      7,
    );
    const series = make(EventsV1EventSeries, {
      count: 3,
      lastObservedTime: new V1MicroTime(Date.UTC(2025, 0, 1, 12, 1)),
    });
    event.series = series;
    expect(JSON.parse(JSON.stringify(event))).toEqual(JSON.parse(JSON.stringify(toJson("EventsV1Event", event))));
    expect(JSON.parse(JSON.stringify(series))).toEqual(
      JSON.parse(JSON.stringify(toJson("EventsV1EventSeries", series))),
    );
  });

  it("puts a cluster-scoped object's events in default", () => {
    const event = buildEvent(failed(undefined, { regarding: { kind: "CopyClass", name: "gold" } }), reporter, 0, 0);
    expect(event.metadata?.namespace).toBe("default");
  });

  it("truncateNote keeps notes within the API's 1 kB without splitting characters", () => {
    expect(truncateNote("short")).toBe("short");
    const cut = truncateNote("é".repeat(1000));
    expect(Buffer.byteLength(cut, "utf8")).toBeLessThanOrEqual(1024);
    expect(cut.endsWith("…")).toBe(true);
  });
});

/** A sink over our own port that keeps Events the way the apiserver would. */
function memorySink(): EventSink & { events: Map<string, EventsV1Event>; creates: number; patches: number } {
  const sink = {
    events: new Map<string, EventsV1Event>(),
    creates: 0,
    patches: 0,
    create(namespace: string, event: EventsV1Event) {
      sink.creates++;
      sink.events.set(`${namespace}/${event.metadata?.name ?? ""}`, event);
      return Promise.resolve();
    },
    patchSeries(namespace: string, name: string, series: EventsV1EventSeries) {
      sink.patches++;
      const event = sink.events.get(`${namespace}/${name}`);
      if (event === undefined)
        return Promise.reject(
          new ApiException(
            404,
            "x",
            JSON.stringify({ kind: "Status", code: 404, reason: "NotFound", message: "gone" }),
            {},
          ),
        );
      event.series = series;
      return Promise.resolve();
    },
  };
  return sink;
}

describe("EventRecorder", () => {
  it("folds repeats into one Event whose series counts them", async () => {
    const clock = new FakeClock(0);
    const sink = memorySink();
    const recorder = new EventRecorder({ sink, clock, reporter });
    await recorder.record(failed());
    clock.advance(5_000);
    await recorder.record(failed());
    clock.advance(5_000);
    await recorder.record(failed());
    expect(sink.events.size).toBe(1);
    const [event] = [...sink.events.values()];
    expect(event?.series?.count).toBe(3);
    expect(JSON.parse(JSON.stringify(event?.series))).toEqual({
      count: 3,
      lastObservedTime: "1970-01-01T00:00:10.000000Z",
    });
  });

  it("a burst of concurrent repeats creates once, then patches", async () => {
    const clock = new FakeClock(0);
    const sink = memorySink();
    const recorder = new EventRecorder({ sink, clock, reporter });
    await Promise.all(Array.from({ length: 5 }, () => recorder.record(failed())));
    expect({ creates: sink.creates, patches: sink.patches }).toEqual({ creates: 1, patches: 4 });
  });

  it(
    "starts a new Event after the window, for a different note, and when " + "the old one was garbage-collected",
    async () => {
      const clock = new FakeClock(0);
      const sink = memorySink();
      const recorder = new EventRecorder({ sink, clock, reporter, windowMs: 1_000 });
      await recorder.record(failed());
      clock.advance(1_001);
      await recorder.record(failed());
      await recorder.record(failed("array busy (12)"));
      sink.events.clear();
      await recorder.record(failed());
      expect(sink.creates).toBe(4);
      expect(sink.events.size).toBe(1);
    },
  );

  it("never rejects: a failed write goes to onError", async () => {
    const clock = new FakeClock(0);
    const errors: string[] = [];
    const sink: EventSink = {
      create: () => Promise.reject(new Error("forbidden")),
      patchSeries: () => Promise.resolve(),
    };
    const recorder = new EventRecorder({ sink, clock, reporter, onError: (e) => errors.push(String(e)) });
    await expect(recorder.record(failed())).resolves.toBeUndefined();
    expect(errors).toEqual(["Error: forbidden"]);
  });

  it("forgets the oldest keys beyond maxEntries, so memory stays bounded", async () => {
    const clock = new FakeClock(0);
    const sink = memorySink();
    const recorder = new EventRecorder({ sink, clock, reporter, maxEntries: 2 });
    await recorder.record(failed("1"));
    await recorder.record(failed("2"));
    await recorder.record(failed("3"));
    await recorder.record(failed("1"));
    expect(sink.creates).toBe(4);
  });
});
