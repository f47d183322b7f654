// The informer against the real apiserver: it sees creates, updates and deletes of a custom resource; after its
// watch fails it relists and converges (a delete that happened while it was blind is noticed); a watch from a
// resourceVersion the apiserver no longer has is answered 410 Gone and relisted; every key is resynced; a
// status-blind listener hears a label change and not the status writes.
// Failures are injected through the WatchPort (our own port wrapped around the real client-node Watch): the
// requests themselves go to the real apiserver, including the one that gets the real 410.
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { realClock } from "../../operator/src/kube/clock.ts";
import { makeClients, type Clients } from "../../operator/src/kube/client.ts";
import {
  Informer,
  clientNodeWatch,
  decodeUntyped,
  rawList,
  type UntypedObject,
  type WatchPort,
} from "../../operator/src/kube/informer.ts";
import { RequestThrottle } from "../../operator/src/kube/ratelimit.ts";
import { eventually, freshNamespace, installCrds, kubeConfig, kubectlOk } from "../support/cluster.ts";

const group = "arraycopy.io";
const version = "v1alpha1";
const plural = "virtualcopies";

let clients: Clients;
beforeAll(() => {
  installCrds();
  clients = makeClients(kubeConfig(), { throttle: new RequestThrottle(realClock) });
});

function createCopies(ns: string, ...names: string[]): void {
  const items = names.map((name) => ({
    apiVersion: `${group}/${version}`,
    kind: "VirtualCopy",
    metadata: { name, namespace: ns },
    spec: { source: { volumeName: "vol1" } },
  }));
  kubectlOk(["create", "-f", "-"], { input: stringify({ apiVersion: "v1", kind: "List", items }) });
}

function labelsOf(obj: unknown): unknown {
  const meta: unknown = typeof obj === "object" && obj !== null ? Reflect.get(obj, "metadata") : undefined;
  return typeof meta === "object" && meta !== null ? Reflect.get(meta, "labels") : undefined;
}

/** A real watch whose current stream the test can break, hold back, or point at a forgotten resourceVersion. */
class Saboteur implements WatchPort {
  readonly #real: WatchPort;
  #current: { abort(): void; done: (err: unknown) => void } | undefined;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  #staleOnce = false;
  readonly sentVersions: string[] = [];

  constructor(real: WatchPort) {
    this.#real = real;
  }

  async watch(
    path: string,
    query: Readonly<Record<string, string | number | boolean>>,
    onEvent: (type: string, object: unknown) => void,
    onDone: (err: unknown) => void,
  ) {
    await this.#gate;
    const q = this.#staleOnce ? { ...query, resourceVersion: "1" } : query;
    this.#staleOnce = false;
    this.sentVersions.push(String(q["resourceVersion"]));
    let ended = false;
    const done = (err: unknown): void => {
      if (ended) return;
      ended = true;
      onDone(err);
    };
    const handle = await this.#real.watch(path, q, onEvent, done);
    this.#current = {
      abort: () => {
        handle.abort();
      },
      done,
    };
    return handle;
  }

  /** Holds the next watch back until `release`. */
  hold(): void {
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }

  release(opts: { staleVersion?: boolean } = {}): void {
    this.#staleOnce = opts.staleVersion ?? false;
    this.#open();
  }

  /** Ends the current watch as a network failure (err) or as a clean server close (null). */
  breakWatch(err: Error | null): void {
    const c = this.#current;
    this.#current = undefined;
    c?.done(err);
    c?.abort();
  }
}

interface Harness {
  readonly informer: Informer<UntypedObject>;
  readonly changed: string[];
  readonly errors: string[];
  readonly saboteur: Saboteur;
  lists: number;
}

let running: Informer<UntypedObject> | undefined;
afterEach(async () => {
  await running?.stop();
  running = undefined;
});

function start(ns: string, resyncMs = 0): Harness {
  const saboteur = new Saboteur(clientNodeWatch(kubeConfig()));
  const h: Harness = {
    changed: [],
    errors: [],
    saboteur,
    lists: 0,
    informer: new Informer<UntypedObject>({
      name: plural,
      path: `/apis/${group}/${version}/namespaces/${ns}/${plural}`,
      list: async () => {
        h.lists++;
        return rawList(
          await clients.customObjects.listNamespacedCustomObject({ group, version, namespace: ns, plural }),
        );
      },
      watch: saboteur,
      clock: realClock,
      decode: decodeUntyped,
      resyncMs,
      backoff: { baseMs: 100, maxMs: 1_000 },
      onError: (message) => h.errors.push(message),
    }),
  };
  h.informer.onChange((key) => h.changed.push(key));
  running = h.informer;
  h.informer.start();
  return h;
}

describe("Informer on the real apiserver", () => {
  it("lists, then sees creates, updates and deletes", async () => {
    const ns = freshNamespace("inf");
    createCopies(ns, "before");
    const h = start(ns);
    expect(await h.informer.waitForSync()).toBe(true);
    expect(h.informer.keys()).toEqual([`${ns}/before`]);

    createCopies(ns, "a", "b");
    await eventually(() => {
      expect(h.informer.keys().sort()).toEqual([`${ns}/a`, `${ns}/b`, `${ns}/before`]);
    });
    h.changed.length = 0;
    kubectlOk(["label", "-n", ns, "virtualcopy", "a", "tier=gold"]);
    await eventually(() => {
      expect(labelsOf(h.informer.getByName(ns, "a"))).toEqual({ tier: "gold" });
    });
    kubectlOk(["delete", "-n", ns, "virtualcopy", "b"]);
    await eventually(() => {
      expect(h.informer.get(`${ns}/b`)).toBeUndefined();
    });
    expect(h.changed).toContain(`${ns}/a`);
    expect(h.changed).toContain(`${ns}/b`);
    expect(h.informer.list(ns)).toHaveLength(2);
  });

  it("tells a status-blind listener of a label, not of status writes", async () => {
    const ns = freshNamespace("inf");
    createCopies(ns, "s");
    const h = start(ns);
    const blind: string[] = [];
    h.informer.ignoringStatus().onChange((key) => blind.push(key));
    await eventually(() => {
      expect(h.informer.keys()).toEqual([`${ns}/s`]);
    });
    blind.length = 0;
    h.changed.length = 0;
    const statusOf = (): unknown => h.informer.getByName(ns, "s")?.["status"];
    for (const syncState of ["Idle", "Broken"]) {
      kubectlOk([
        "patch",
        "-n",
        ns,
        "virtualcopy",
        "s",
        "--subresource=status",
        "--type=merge",
        "-p",
        JSON.stringify({ status: { syncState } }),
      ]);
      await eventually(() => {
        expect(statusOf()).toMatchObject({ syncState });
      });
    }
    kubectlOk(["label", "-n", ns, "virtualcopy", "s", "tier=gold"]);
    await eventually(() => {
      expect(labelsOf(h.informer.getByName(ns, "s"))).toEqual({ tier: "gold" });
    });
    expect(h.changed).toEqual([`${ns}/s`, `${ns}/s`, `${ns}/s`]);
    expect(blind).toEqual([`${ns}/s`]);
  });

  it("after its watch fails, backs off, relists and notices what changed while it was blind", async () => {
    const ns = freshNamespace("inf");
    createCopies(ns, "keep", "gone");
    const h = start(ns);
    await h.informer.waitForSync();
    await eventually(() => {
      expect(h.saboteur.sentVersions.length).toBeGreaterThan(0);
    });

    h.saboteur.hold();
    h.saboteur.breakWatch(new Error("injected: connection reset"));
    kubectlOk(["delete", "-n", ns, "virtualcopy", "gone"]);
    createCopies(ns, "new");
    h.changed.length = 0;
    h.saboteur.release();

    await eventually(() => {
      expect(h.informer.keys().sort()).toEqual([`${ns}/keep`, `${ns}/new`]);
    });
    expect(h.changed.sort()).toEqual([`${ns}/gone`, `${ns}/new`]);
    expect(h.errors.some((m) => m.includes("injected: connection reset"))).toBe(true);
    expect(h.lists).toBe(2);
    // And it watches again: a later change arrives without another failure.
    kubectlOk(["label", "-n", ns, "virtualcopy", "keep", "tier=gold"]);
    await eventually(() => {
      expect(h.changed).toContain(`${ns}/keep`);
    });
  });

  it("relists when the apiserver answers 410 Gone to a watch from a forgotten resourceVersion", async () => {
    const ns = freshNamespace("inf");
    createCopies(ns, "keep", "gone");
    const h = start(ns);
    await h.informer.waitForSync();
    await eventually(() => {
      expect(h.saboteur.sentVersions.length).toBeGreaterThan(0);
    });

    // A clean close resumes from the last resourceVersion without relisting; that version is then replaced by "1",
    // which the apiserver's watch cache no longer holds: it answers with an ERROR event, code 410.
    h.saboteur.hold();
    h.saboteur.breakWatch(null);
    kubectlOk(["delete", "-n", ns, "virtualcopy", "gone"]);
    h.saboteur.release({ staleVersion: true });

    await eventually(() => {
      expect(h.informer.keys()).toEqual([`${ns}/keep`]);
    });
    expect(h.changed).toContain(`${ns}/gone`);
    expect(h.saboteur.sentVersions).toContain("1");
    expect(h.lists).toBe(2);
    expect(h.errors).toEqual([]);
  });

  it("resyncs: every cached key is notified again each period", async () => {
    const ns = freshNamespace("inf");
    createCopies(ns, "a");
    const h = start(ns, 300);
    await h.informer.waitForSync();
    await eventually(() => {
      expect(h.changed.filter((k) => k === `${ns}/a`).length).toBeGreaterThanOrEqual(3);
    });
  });

  it("after stop, notifies nothing more", async () => {
    const ns = freshNamespace("inf");
    const h = start(ns);
    await h.informer.waitForSync();
    await h.informer.stop();
    createCopies(ns, "late");
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(h.changed).toEqual([]);
    expect(h.informer.keys()).toEqual([]);
  });
});
