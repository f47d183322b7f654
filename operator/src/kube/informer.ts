// Informer: a list-then-watch cache of one kind, telling listeners which keys changed (client-go's reflector +
// store + resync, level-triggered).
//
// Built on client-node's `Watch` (auth, TLS, line framing) rather than on its `ListWatch`/`makeInformer`, which
// this module replaces because, as read in client-node 2.0.1's cache.js and watch.js: ListWatch stops for good on
// any error but 410 and, when restarted, resumes from its remembered resourceVersion instead of relisting; its own
// `stop()` aborts the request and the resulting AbortError reaches the `error` callbacks; it never asks for watch
// bookmarks; and it sleeps on the wall clock. Here every failure restarts the loop with backoff on our Clock and
// relists, so the cache converges whatever went wrong.
//
// Invariants:
// - Keys are "namespace/name", or "name" for cluster-scoped objects (client-go's MetaNamespaceKeyFunc).
// - Listeners get keys, never objects: a reconcile re-reads the cache (STYLE principle 1). A key is notified
//   when its object appears, changes resourceVersion or disappears — including disappearances found by a relist —
//   and every key is notified again each resync period.
// - A listener subscribed through `ignoringStatus()` is not told of a change that touched only the object's status
//   (and its resourceVersion and managedFields): a controller's own status write does not wake it again. It is
//   told of everything else, resyncs and relists included (controller-runtime's GenerationChangedPredicate, widened
//   to labels, annotations, finalizers, owners and deletion, which do not move the generation).
// - A watch that ends cleanly (server timeout, client-node's 30 s inactivity abort) resumes from the last
//   resourceVersion; 410 Gone relists at once; anything else relists after an exponential backoff.
// - `hasSynced()` turns true after the first complete list and stays true.
// - `list(namespace)` reads an index of that namespace's objects, kept with the cache, so the secondary-watch maps
//   that run on every change of a copy (the jobs or claims of its namespace) do not walk the whole cluster's.
// - After `stop()` resolves no listener is called and no request is in flight.

import { Watch } from "@kubernetes/client-node";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Clock, Timer } from "./clock.ts";
import type { KeySource } from "./controller.ts";
import { summarise } from "./errors.ts";

export interface ObjectMetaLike {
  readonly name?: string | undefined;
  readonly namespace?: string | undefined;
  readonly resourceVersion?: string | undefined;
}

export interface KubeObject {
  readonly metadata?: ObjectMetaLike | undefined;
}

/** A list response as JSON: items are decoded by the informer, like watch events. */
export interface RawList {
  readonly items: readonly unknown[];
  readonly metadata?: { readonly resourceVersion?: string | undefined } | undefined;
}

/** One watch: call `onEvent` per event and `onDone` once when it ends (null or undefined: ended cleanly). */
export interface WatchPort {
  watch(
    path: string,
    query: Readonly<Record<string, string | number | boolean>>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ): Promise<{ abort(): void }>;
}

/** The WatchPort of the real apiserver, through client-node's Watch. */
export function clientNodeWatch(kc: KubeConfig): WatchPort {
  const w = new Watch(kc);
  return {
    async watch(path, query, onEvent, onDone) {
      const controller = await w.watch(
        path,
        { ...query },
        (type: string, object: unknown) => {
          onEvent(type, object);
        },
        (err: unknown) => {
          onDone(err);
        },
      );
      return {
        abort: () => {
          controller.abort();
        },
      };
    },
  };
}

/** Checks a list response's shape (custom-object lists arrive untyped); throws when it is not a list. */
export function rawList(v: unknown): RawList {
  const items = isRecord(v) ? v["items"] : undefined;
  if (!Array.isArray(items)) throw new Error("list response has no items array");
  const meta = isRecord(v) ? v["metadata"] : undefined;
  const resourceVersion =
    isRecord(meta) && typeof meta["resourceVersion"] === "string" ? meta["resourceVersion"] : undefined;
  return { items, metadata: { resourceVersion } };
}

/** Items per list page: as client-go's reflector, so a cold start with many objects never holds one huge response. */
export const listPageSize = 500;

/**
 * Lists a whole collection page by page (limit/continue); the result carries the resourceVersion of the
 * consistent snapshot the pages come from. `page` fetches one page.
 */
export async function pagedList(
  page: (limit: number, continueToken: string | undefined) => Promise<unknown>,
  limit = listPageSize,
): Promise<RawList> {
  const items: unknown[] = [];
  let cont: string | undefined;
  for (;;) {
    const raw = await page(limit, cont);
    const list = rawList(raw);
    items.push(...list.items);
    const meta = isRecord(raw) ? raw["metadata"] : undefined;
    const next = isRecord(meta) ? meta["continue"] : undefined;
    if (typeof next !== "string" || next === "") return { items, metadata: list.metadata };
    cont = next;
  }
}

/** A JSON object with a named metadata, untyped beyond that. */
export type UntypedObject = KubeObject & Readonly<Record<string, unknown>>;

/** The minimal decoder: any object with metadata.name; kinds with a zod schema should parse with it instead. */
export function decodeUntyped(raw: unknown): UntypedObject | undefined {
  const name = rawMeta(raw)?.name;
  return isRecord(raw) && name !== undefined && name !== "" ? raw : undefined;
}

export function objectKey(namespace: string | undefined, name: string): string {
  return namespace === undefined || namespace === "" ? name : `${namespace}/${name}`;
}

/** The inverse of `objectKey`. */
export function splitKey(key: string): { readonly namespace?: string; readonly name: string } {
  const slash = key.indexOf("/");
  return slash < 0 ? { name: key } : { namespace: key.slice(0, slash), name: key.slice(slash + 1) };
}

export interface InformerOptions<T extends KubeObject> {
  /** For errors and metrics, e.g. "virtualcopies". */
  readonly name: string;
  /** The collection's URL path, e.g. "/apis/arraycopy.io/v1alpha1/virtualcopies" (all namespaces). */
  readonly path: string;
  /** Lists the collection; should go through the throttled clients. */
  readonly list: () => Promise<RawList>;
  readonly watch: WatchPort;
  readonly clock: Clock;
  /** Turns an item or watch object into T; undefined rejects it (reported, and the cache left as it was). */
  readonly decode: (raw: unknown) => T | undefined;
  readonly labelSelector?: string;
  /** Every key is notified again this often; 0 disables. Default 10 minutes. */
  readonly resyncMs?: number;
  /** Restart backoff after a failure: base · 2^(failures−1), capped, plus up to 50 % jitter. */
  readonly backoff?: { readonly baseMs: number; readonly maxMs: number };
  readonly onError?: (message: string, e: unknown) => void;
  /** In [0, 1); injected for deterministic tests. */
  readonly random?: () => number;
}

type WatchEnd = "closed" | "expired" | "stopped";

const defaultBackoff = { baseMs: 800, maxMs: 30_000 };
/** A watch shorter than this that ended "cleanly" counts as a failure, so a server closing at once cannot spin us. */
const minHealthyWatchMs = 1_000;

export class Informer<T extends KubeObject> {
  readonly #o: InformerOptions<T>;
  readonly #cache = new Map<string, T>();
  /** The cache's namespaced objects by namespace, so that list(namespace) reads only that namespace. */
  readonly #byNamespace = new Map<string, Map<string, T>>();
  /** Each listener, and whether it is told of changes of status alone. */
  readonly #listeners = new Map<(key: string) => void, boolean>();
  /** undefined: the next round must list. */
  #resourceVersion: string | undefined;
  #synced = false;
  readonly #syncWaiters: (() => void)[] = [];
  #stop: AbortController | undefined;
  #running: Promise<void> | undefined;
  #resyncTimer: Timer | undefined;

  constructor(opts: InformerOptions<T>) {
    this.#o = opts;
  }

  get name(): string {
    return this.#o.name;
  }

  /** Subscribes to changed keys; returns the unsubscribe function. */
  onChange(listener: (key: string) => void): () => void {
    return this.#subscribe(listener, true);
  }

  /** This informer as a key source that is not told of changes of status alone (see the invariants). */
  ignoringStatus(): KeySource {
    return {
      name: this.name,
      onChange: (listener) => this.#subscribe(listener, false),
      keys: () => this.keys(),
      waitForSync: (signal) => this.waitForSync(signal),
    };
  }

  #subscribe(listener: (key: string) => void, statusToo: boolean): () => void {
    // One function subscribed twice keeps its first subscription, as a Set would.
    if (!this.#listeners.has(listener)) this.#listeners.set(listener, statusToo);
    return () => {
      this.#listeners.delete(listener);
    };
  }

  get(key: string): T | undefined {
    return this.#cache.get(key);
  }

  getByName(namespace: string | undefined, name: string): T | undefined {
    return this.#cache.get(objectKey(namespace, name));
  }

  /** Cached objects, of one namespace when given. */
  list(namespace?: string): T[] {
    if (namespace === undefined) return [...this.#cache.values()];
    return [...(this.#byNamespace.get(namespace)?.values() ?? [])];
  }

  keys(): string[] {
    return [...this.#cache.keys()];
  }

  hasSynced(): boolean {
    return this.#synced;
  }

  /** Resolves true once synced, false if `signal` aborts first. */
  waitForSync(signal?: AbortSignal): Promise<boolean> {
    if (this.#synced) return Promise.resolve(true);
    if (signal?.aborted === true) return Promise.resolve(false);
    return new Promise((resolve) => {
      const onAbort = (): void => {
        resolve(false);
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.#syncWaiters.push(() => {
        signal?.removeEventListener("abort", onAbort);
        resolve(true);
      });
    });
  }

  /** Starts listing and watching in the background; an informer runs once, so a second call does nothing. */
  start(): void {
    if (this.#stop !== undefined) return;
    const stop = new AbortController();
    this.#stop = stop;
    this.#running = this.#run(stop.signal);
    this.#scheduleResync();
  }

  /** Stops watching; resolves when no request is in flight. The cache keeps its content. */
  async stop(): Promise<void> {
    this.#stop?.abort();
    this.#resyncTimer?.cancel();
    await this.#running;
  }

  async #run(signal: AbortSignal): Promise<void> {
    let failures = 0;
    while (!signal.aborted) {
      const started = this.#o.clock.now();
      try {
        if (this.#resourceVersion === undefined) await this.#relist();
        if (stopped(signal)) break;
        const end = await this.#watchOnce(signal);
        if (end === "expired") {
          this.#resourceVersion = undefined;
          failures = 0;
          continue;
        }
        if (end === "stopped" || this.#o.clock.now() - started >= minHealthyWatchMs) {
          failures = 0;
          continue;
        }
        failures++;
      } catch (e: unknown) {
        if (stopped(signal)) break;
        this.#resourceVersion = undefined;
        failures++;
        this.#o.onError?.(`informer ${this.#o.name}: list or watch failed, restarting: ${summarise(e)}`, e);
      }
      await this.#o.clock.sleep(this.#backoffMs(failures), signal);
    }
  }

  #backoffMs(failures: number): number {
    const { baseMs, maxMs } = this.#o.backoff ?? defaultBackoff;
    const plain = Math.min(maxMs, baseMs * 2 ** Math.min(30, Math.max(0, failures - 1)));
    return plain * (1 + 0.5 * (this.#o.random ?? Math.random)());
  }

  /** Lists, replaces the cache, and notifies every key that appeared, changed or disappeared. */
  async #relist(): Promise<void> {
    const list = await this.#o.list();
    const fresh = new Map<string, T>();
    for (const raw of list.items) {
      const obj = this.#decode(raw);
      const key = obj === undefined ? undefined : keyOf(obj);
      if (obj !== undefined && key !== undefined) fresh.set(key, obj);
    }
    const changed: string[] = [];
    for (const key of this.#cache.keys()) if (!fresh.has(key)) changed.push(key);
    for (const [key, obj] of fresh) {
      if (rv(this.#cache.get(key)) !== rv(obj) || !this.#cache.has(key)) changed.push(key);
    }
    this.#cache.clear();
    this.#byNamespace.clear();
    for (const [key, obj] of fresh) this.#put(key, obj);
    this.#resourceVersion = list.metadata?.resourceVersion ?? "";
    this.#markSynced();
    for (const key of changed) this.#notify(key);
  }

  #watchOnce(signal: AbortSignal): Promise<WatchEnd> {
    const query: Record<string, string | number | boolean> = {
      resourceVersion: this.#resourceVersion ?? "",
      allowWatchBookmarks: true,
      // client-go spreads watch lengths over 5–10 min so that replicas do not reconnect in step.
      timeoutSeconds: Math.floor(300 * (1 + (this.#o.random ?? Math.random)())),
    };
    if (this.#o.labelSelector !== undefined) query["labelSelector"] = this.#o.labelSelector;
    return new Promise<WatchEnd>((resolve, reject) => {
      let settled = false;
      let expired = false;
      let failure: Error | undefined;
      let handle: { abort(): void } | undefined;
      const onAbort = (): void => handle?.abort();
      const finish = (err: unknown): void => {
        if (settled) return;
        settled = true;
        signal.removeEventListener("abort", onAbort);
        if (signal.aborted) resolve("stopped");
        else if (expired || statusCodeOf(err) === 410) resolve("expired");
        else if (failure !== undefined) reject(failure);
        else if (err === null || err === undefined || isWatchTimeout(err)) resolve("closed");
        else reject(err instanceof Error ? err : new Error("watch failed", { cause: err }));
      };
      const onEvent = (type: string, object: unknown): void => {
        if (settled) return;
        if (type === "ERROR") {
          const status = statusOf(object);
          if (status.code === 410) expired = true;
          else failure ??= new Error(`watch error ${status.code} ${status.reason}: ${status.message}`);
          return;
        }
        this.#apply(type, object);
      };
      signal.addEventListener("abort", onAbort, { once: true });
      this.#o.watch.watch(this.#o.path, query, onEvent, finish).then((h) => {
        handle = h;
        if (signal.aborted || settled) h.abort();
      }, finish);
    });
  }

  /** One watch event: update the cache and the resourceVersion, notify the key if the object really changed. */
  #apply(type: string, raw: unknown): void {
    if (type !== "ADDED" && type !== "MODIFIED" && type !== "DELETED" && type !== "BOOKMARK") return;
    const version = rawMeta(raw)?.resourceVersion;
    if (type === "BOOKMARK") {
      if (version !== undefined) this.#resourceVersion = version;
      return;
    }
    const obj = this.#decode(raw);
    const key = obj === undefined ? undefined : keyOf(obj);
    if (version !== undefined) this.#resourceVersion = version;
    if (obj === undefined || key === undefined) return;
    if (type === "DELETED") {
      if (this.#remove(key)) this.#notify(key);
      return;
    }
    const previous = this.#cache.get(key);
    this.#put(key, obj);
    if (previous === undefined) this.#notify(key);
    else if (rv(previous) !== rv(obj)) this.#notify(key, () => sameButStatus(previous, obj));
  }

  #put(key: string, obj: T): void {
    this.#cache.set(key, obj);
    const ns = obj.metadata?.namespace;
    if (ns === undefined) return;
    let inNs = this.#byNamespace.get(ns);
    if (inNs === undefined) {
      inNs = new Map<string, T>();
      this.#byNamespace.set(ns, inNs);
    }
    inNs.set(key, obj);
  }

  #remove(key: string): boolean {
    const ns = this.#cache.get(key)?.metadata?.namespace;
    if (!this.#cache.delete(key)) return false;
    if (ns === undefined) return true;
    const inNs = this.#byNamespace.get(ns);
    inNs?.delete(key);
    if (inNs?.size === 0) this.#byNamespace.delete(ns);
    return true;
  }

  #decode(raw: unknown): T | undefined {
    const obj = this.#o.decode(raw);
    if (obj === undefined) {
      const meta = rawMeta(raw);
      const key = objectKey(meta?.namespace, meta?.name ?? "?");
      this.#o.onError?.(`informer ${this.#o.name}: ignored an object that does not decode: ${key}`, undefined);
    }
    return obj;
  }

  /** Tells the listeners; `statusOnly` (asked once, and only if a status-blind listener is subscribed) says
   * whether the change touched status alone. */
  #notify(key: string, statusOnly: () => boolean = () => false): void {
    if (this.#stop?.signal.aborted === true) return;
    let only: boolean | undefined;
    for (const [l, statusToo] of this.#listeners) if (statusToo || !(only ??= statusOnly())) l(key);
  }

  #markSynced(): void {
    if (this.#synced) return;
    this.#synced = true;
    for (const w of this.#syncWaiters.splice(0)) w();
  }

  #scheduleResync(): void {
    const every = this.#o.resyncMs ?? 600_000;
    if (every <= 0) return;
    this.#resyncTimer = this.#o.clock.setTimer(every, () => {
      if (this.#stop?.signal.aborted === true) return;
      for (const key of this.#cache.keys()) this.#notify(key);
      this.#scheduleResync();
    });
  }
}

/** Re-reads `aborted` after an await (a plain read there is narrowed to false by the type checker). */
function stopped(signal: AbortSignal): boolean {
  return signal.aborted;
}

function rv(obj: KubeObject | undefined): string | undefined {
  return obj?.metadata?.resourceVersion;
}

/** True when two versions of an object differ at most in status, resourceVersion and managedFields. */
function sameButStatus(a: KubeObject, b: KubeObject): boolean {
  return allButStatus(a) === allButStatus(b);
}

function allButStatus(obj: KubeObject): string {
  const { status: _status, metadata, ...rest } = obj as KubeObject & Record<string, unknown>;
  const { resourceVersion: _rv, managedFields: _mf, ...meta } = (metadata ?? {}) as Record<string, unknown>;
  return JSON.stringify([meta, rest]);
}

function keyOf(obj: KubeObject): string | undefined {
  const name = obj.metadata?.name;
  return name === undefined || name === "" ? undefined : objectKey(obj.metadata?.namespace, name);
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null;
}

/** The metadata of an undecoded object, as far as it has the expected shape. */
function rawMeta(raw: unknown): ObjectMetaLike | undefined {
  const meta = isRecord(raw) ? raw["metadata"] : undefined;
  if (!isRecord(meta)) return undefined;
  const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
  return { name: str(meta["name"]), namespace: str(meta["namespace"]), resourceVersion: str(meta["resourceVersion"]) };
}

/** client-node's Watch reports a non-200 answer as an Error with `statusCode`. */
function statusCodeOf(err: unknown): number | undefined {
  if (!isRecord(err)) return undefined;
  const code = err["statusCode"] ?? err["code"];
  return typeof code === "number" ? code : undefined;
}

/** client-node aborts a watch that received nothing for 30 s with a DOMException named TimeoutError. */
function isWatchTimeout(err: unknown): boolean {
  return isRecord(err) && err["name"] === "TimeoutError";
}

function statusOf(object: unknown): { code: number; reason: string; message: string } {
  const s = isRecord(object) ? object : {};
  return {
    code: typeof s["code"] === "number" ? s["code"] : 0,
    reason: typeof s["reason"] === "string" ? s["reason"] : "",
    message: typeof s["message"] === "string" ? s["message"] : "",
  };
}
