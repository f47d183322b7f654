import { describe, expect, it } from "vitest";
import { FakeClock, settle } from "./clock.ts";
import {
  Informer,
  decodeUntyped,
  objectKey,
  splitKey,
  type RawList,
  type UntypedObject,
  type WatchPort,
} from "./informer.ts";

const obj = (name: string, rv: string, namespace = "ns") => ({ metadata: { name, namespace, resourceVersion: rv } });

interface OpenWatch {
  readonly query: Readonly<Record<string, string | number | boolean>>;
  readonly onEvent: (type: string, object: unknown) => void;
  readonly onDone: (err: unknown) => void;
}

/** Our WatchPort driven by the test; the apiserver side of it is exercised in test/integration/kube-informer. */
class HandWatch implements WatchPort {
  readonly opened: OpenWatch[] = [];
  watch(
    _path: string,
    query: Readonly<Record<string, string | number | boolean>>,
    onEvent: OpenWatch["onEvent"],
    onDone: OpenWatch["onDone"],
  ) {
    this.opened.push({ query, onEvent, onDone });
    return Promise.resolve({
      abort: () => {
        onDone(null);
      },
    });
  }
  last(): OpenWatch {
    const w = this.opened.at(-1);
    if (w === undefined) throw new Error("no watch opened");
    return w;
  }
}

function setup(list: () => Promise<RawList>) {
  const clock = new FakeClock();
  const watch = new HandWatch();
  const changed: string[] = [];
  const errors: string[] = [];
  const informer = new Informer<UntypedObject>({
    name: "test",
    path: "/x",
    list,
    watch,
    clock,
    decode: decodeUntyped,
    resyncMs: 0,
    backoff: { baseMs: 1_000, maxMs: 8_000 },
    random: () => 0,
    onError: (m) => errors.push(m),
  });
  informer.onChange((k) => changed.push(k));
  return { clock, watch, changed, errors, informer };
}

describe("keys", () => {
  it("namespace/name, or name alone for cluster-scoped objects, and back", () => {
    expect(objectKey("ns", "a")).toBe("ns/a");
    expect(objectKey(undefined, "gold")).toBe("gold");
    expect(splitKey("ns/a")).toEqual({ namespace: "ns", name: "a" });
    expect(splitKey("gold")).toEqual({ name: "gold" });
  });
});

describe("Informer (fake clock, hand-driven watch)", () => {
  it("retries a failing list with growing backoff, and syncs when it succeeds", async () => {
    let lists = 0;
    const t = setup(() => {
      lists++;
      return lists < 4
        ? Promise.reject(new Error("connection refused"))
        : Promise.resolve({ items: [obj("a", "5")], metadata: { resourceVersion: "10" } });
    });
    t.informer.start();
    await settle();
    expect(lists).toBe(1);
    await t.clock.advanceAsync(999);
    expect(lists).toBe(1);
    await t.clock.advanceAsync(1);
    expect(lists).toBe(2);
    await t.clock.advanceAsync(2_000);
    expect(lists).toBe(3);
    expect(t.informer.hasSynced()).toBe(false);
    await t.clock.advanceAsync(4_000);
    expect(lists).toBe(4);
    expect(t.informer.hasSynced()).toBe(true);
    expect(t.changed).toEqual(["ns/a"]);
    expect(t.watch.last().query["resourceVersion"]).toBe("10");
    expect(t.errors).toHaveLength(3);
    await t.informer.stop();
  });

  it(
    "410 in the stream relists at once; a watch error relists after backoff; " +
      "deletes seen by a relist are notified",
    async () => {
      let items = [obj("a", "5"), obj("b", "6")];
      let lists = 0;
      const t = setup(() => {
        lists++;
        return Promise.resolve({ items, metadata: { resourceVersion: String(10 * lists) } });
      });
      t.informer.start();
      await settle();
      t.changed.length = 0;
      t.watch.last().onEvent("MODIFIED", obj("a", "11"));
      t.watch.last().onEvent("BOOKMARK", { metadata: { resourceVersion: "12" } });
      expect(t.changed).toEqual(["ns/a"]);

      items = [obj("a", "11")];
      t.watch
        .last()
        .onEvent("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old resource version" });
      t.watch.last().onDone(null);
      await settle();
      expect(lists).toBe(2);
      expect(t.changed).toEqual(["ns/a", "ns/b"]);
      expect(t.errors).toEqual([]);

      t.watch.last().onDone(new Error("socket hang up"));
      await settle();
      expect(lists).toBe(2);
      await t.clock.advanceAsync(1_000);
      expect(lists).toBe(3);
      expect(t.errors).toHaveLength(1);
      await t.informer.stop();
    },
  );

  it("a clean close resumes from the last resourceVersion without listing", async () => {
    let lists = 0;
    const t = setup(() => {
      lists++;
      return Promise.resolve({ items: [], metadata: { resourceVersion: "10" } });
    });
    t.informer.start();
    await settle();
    t.watch.last().onEvent("ADDED", obj("a", "15"));
    await t.clock.advanceAsync(5_000);
    t.watch.last().onDone(null);
    await settle();
    expect(lists).toBe(1);
    expect(t.watch.last().query["resourceVersion"]).toBe("15");
    expect(t.watch.opened).toHaveLength(2);
    await t.informer.stop();
  });

  it("a watch that closes at once, again and again, is backed off rather than spun", async () => {
    const t = setup(() => Promise.resolve({ items: [], metadata: { resourceVersion: "10" } }));
    t.informer.start();
    await settle();
    t.watch.last().onDone(null);
    await settle();
    expect(t.watch.opened).toHaveLength(1);
    await t.clock.advanceAsync(1_000);
    expect(t.watch.opened).toHaveLength(2);
    await t.informer.stop();
  });

  it("a status-blind listener hears every change but one of status alone; resyncs reach it", async () => {
    const t = setup(() => Promise.resolve({ items: [], metadata: { resourceVersion: "10" } }));
    const blind: string[] = [];
    const off = t.informer.ignoringStatus().onChange((k) => blind.push(k));
    t.informer.start();
    await settle();
    const base = { metadata: { name: "a", namespace: "ns", generation: 1 }, spec: { size: 1 } };
    const version = (rv: string, change: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}) => ({
      ...base,
      ...change,
      metadata: { ...base.metadata, resourceVersion: rv, ...metadata },
    });
    const w = t.watch.last();
    w.onEvent("ADDED", version("11"));
    const managed = [{ manager: "m", operation: "Apply", time: "2026-12-07T14:00:00Z" }];
    w.onEvent("MODIFIED", version("12", { status: { ready: true } }, { managedFields: managed }));
    w.onEvent("MODIFIED", version("13", { status: { ready: false } }));
    expect(blind).toEqual(["ns/a"]);
    w.onEvent("MODIFIED", version("14", { status: { ready: false } }, { labels: { x: "y" } }));
    w.onEvent("MODIFIED", version("15", { spec: { size: 2 }, status: { ready: false } }, { labels: { x: "y" } }));
    w.onEvent("MODIFIED", version("16", { spec: { size: 2 } }, { labels: { x: "y" }, deletionTimestamp: "now" }));
    w.onEvent("DELETED", version("17", { spec: { size: 2 } }, { labels: { x: "y" }, deletionTimestamp: "now" }));
    expect(blind).toEqual(["ns/a", "ns/a", "ns/a", "ns/a", "ns/a"]);
    expect(t.changed).toEqual(["ns/a", "ns/a", "ns/a", "ns/a", "ns/a", "ns/a", "ns/a"]);
    off();
    w.onEvent("ADDED", version("18"));
    expect(blind).toHaveLength(5);
    await t.informer.stop();
  });

  it("resyncs and relists notify status-blind listeners too", async () => {
    const clock = new FakeClock();
    const watch = new HandWatch();
    let items = [obj("a", "5")];
    const informer = new Informer<UntypedObject>({
      name: "test",
      path: "/x",
      list: () => Promise.resolve({ items, metadata: { resourceVersion: "10" } }),
      watch,
      clock,
      decode: decodeUntyped,
      resyncMs: 60_000,
    });
    const blind: string[] = [];
    informer.ignoringStatus().onChange((k) => blind.push(k));
    informer.start();
    await settle();
    expect(blind).toEqual(["ns/a"]);
    await clock.advanceAsync(60_000);
    expect(blind).toEqual(["ns/a", "ns/a"]);
    items = [{ ...obj("a", "20"), status: { ready: true } } as ReturnType<typeof obj>];
    watch.last().onEvent("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old" });
    watch.last().onDone(null);
    await settle();
    expect(blind).toEqual(["ns/a", "ns/a", "ns/a"]);
    await informer.stop();
  });

  it("lists one namespace from its own index, through adds, updates, deletes and relists", async () => {
    let items: ReturnType<typeof obj>[] = [obj("a", "1", "x"), obj("b", "2", "y")];
    const t = setup(() => Promise.resolve({ items, metadata: { resourceVersion: "10" } }));
    t.informer.start();
    await settle();
    const names = (ns?: string) =>
      t.informer
        .list(ns)
        .map((o) => o.metadata?.name)
        .sort();
    expect(names("x")).toEqual(["a"]);
    const w = t.watch.last();
    w.onEvent("ADDED", obj("c", "11", "x"));
    w.onEvent("MODIFIED", obj("a", "12", "x"));
    w.onEvent("ADDED", { metadata: { name: "cluster-wide", resourceVersion: "13" } });
    expect(names("x")).toEqual(["a", "c"]);
    expect(t.informer.list("x").find((o) => o.metadata?.name === "a")?.metadata?.resourceVersion).toBe("12");
    w.onEvent("DELETED", obj("b", "14", "y"));
    expect(names("y")).toEqual([]);
    expect(names()).toEqual(["a", "c", "cluster-wide"]);
    items = [obj("c", "20", "x"), obj("d", "21", "z")];
    w.onEvent("ERROR", { kind: "Status", code: 410, reason: "Expired", message: "too old" });
    w.onDone(null);
    await settle();
    expect(names("x")).toEqual(["c"]);
    expect(names("z")).toEqual(["d"]);
    expect(names()).toEqual(["c", "d"]);
    await t.informer.stop();
  });
});
