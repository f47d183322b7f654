// The engine registry: the only place that knows driver names. It builds one engine per CopyClass, reuses it
// while the class's generation stays the same, and closes the old one when the class changes or goes away.
// A class whose engine cannot be built is reported to the caller (a condition on the copy), never a crash.
// wsapi and cim classes read their credentials from the class's Secret (keys username, password) through the injected
// readSecret, so this module stays free of Kubernetes. A wsapi engine is rebuilt when its Secret's credentials
// change, checked at most every credentialsRecheckMs (one Secret read per class, not per reconcile): a rotated
// password, or a fixed wrong one, takes effect without touching the class.
import { createHash } from "node:crypto";
import { join } from "node:path";
import type { Engine } from "./port.ts";
import { openEmbeddedEngine } from "./embedded/engine.ts";
import { openWsapiEngine } from "./wsapi/engine.ts";
import { openCimEngine } from "./cim/engine.ts";
import type { IndicationListener } from "./cim/listener.ts";
import type { RecordKind } from "./wsapi/array.ts";
import type { WsapiLogger } from "./wsapi/client.ts";

export interface ClassForEngine {
  readonly name: string;
  readonly generation: number;
  readonly spec: {
    readonly driver: "embedded" | "wsapi" | "cim";
    readonly embedded?: { readonly dataDir?: string | undefined; readonly maxConcurrentCopies: number } | undefined;
    readonly wsapi?: WsapiClassParameters | undefined;
    readonly cim?: CimClassParameters | undefined;
  };
}

/** CopyClass spec.wsapi (api/copyclass.ts). */
export interface WsapiClassParameters {
  readonly endpoint: string;
  readonly credentialsSecretRef: { readonly name: string; readonly namespace: string };
  readonly cpg: string;
  readonly snapCPG?: string | undefined;
  readonly caBundle?: string | undefined;
  readonly insecureSkipTLSVerify: boolean;
}

/** CopyClass spec.cim (api/copyclass.ts). */
export interface CimClassParameters {
  readonly endpoint: string;
  readonly credentialsSecretRef: { readonly name: string; readonly namespace: string };
  readonly namespace: string;
  readonly interopNamespace: string;
  readonly caBundle?: string | undefined;
  readonly insecureSkipTLSVerify: boolean;
}

export interface RegistryOptions {
  /** Embedded engines keep their volumes in <dataDir>/<class name> unless the class names a directory. */
  readonly dataDir: string;
  /** A Secret's data, decoded; needed for wsapi classes. Rejects (or returns no such keys) when it is missing. */
  readonly readSecret?: (namespace: string, name: string) => Promise<Readonly<Record<string, string>>>;
  /** Warnings from wsapi drivers (TLS verification off, session renewed). */
  readonly wsapiLogger?: WsapiLogger;
  /** Malformed records the wsapi drivers skipped (for a metric). */
  readonly onWsapiMalformed?: (kind: RecordKind) => void;
  /** The operator's listener for cim job indications; without it cim classes poll their jobs. */
  readonly cimIndications?: {
    readonly listener: IndicationListener;
    /** The listener's URL as the arrays reach it. */
    readonly listenerUrl: string;
    readonly slowPollMs?: number;
    readonly renewMs?: number;
  };
  /** How often a wsapi class's Secret is read again to notice changed credentials; default 30 s. */
  readonly credentialsRecheckMs?: number;
  readonly now?: () => number;
}

interface Entry {
  readonly generation: number;
  readonly engine: Promise<Engine>;
  /** A digest of the credentials the engine was built with (wsapi), to notice a changed Secret. */
  readonly credentials: string | undefined;
  checkedAt: number;
  recheck: Promise<boolean> | undefined;
}

interface Opened {
  readonly engine: Engine;
  readonly credentials: string | undefined;
}

export class EngineRegistry {
  readonly #opts: RegistryOptions;
  readonly #engines = new Map<string, Entry>();

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  async engineFor(cls: ClassForEngine): Promise<Engine> {
    const current = this.#engines.get(cls.name);
    if (current?.generation === cls.generation && !(await this.#credentialsChanged(cls, current)))
      return current.engine;
    const now = this.#engines.get(cls.name);
    // Another caller rebuilt it while we read the Secret.
    if (now !== current && now?.generation === cls.generation) return now.engine;
    if (now !== undefined) void closeQuietly(now.engine);
    const opened = this.#open(cls);
    const engine = opened.then((o) => o.engine);
    const entry: Entry = {
      generation: cls.generation,
      engine,
      credentials: undefined,
      checkedAt: this.#now(),
      recheck: undefined,
    };
    this.#engines.set(cls.name, entry);
    // A failed build is not cached: the next reconcile tries again (the class or its Secret may be fixed).
    opened.then(
      (o) => {
        if (this.#engines.get(cls.name) === entry)
          this.#engines.set(cls.name, { ...entry, credentials: o.credentials });
      },
      () => {
        if (this.#engines.get(cls.name) === entry) this.#engines.delete(cls.name);
      },
    );
    return engine;
  }

  /** True when the class's Secret now holds other credentials than the engine's; read at most every recheck. */
  async #credentialsChanged(cls: ClassForEngine, entry: Entry): Promise<boolean> {
    const params = cls.spec.wsapi ?? cls.spec.cim;
    if (entry.credentials === undefined || params === undefined) return false;
    if (this.#now() - entry.checkedAt < (this.#opts.credentialsRecheckMs ?? 30_000)) return false;
    entry.recheck ??= (async () => {
      try {
        return (
          credentialsDigest(await wsapiCredentials(this.#opts.readSecret, params.credentialsSecretRef)) !==
          entry.credentials
        );
      } catch {
        // An unreadable Secret does not take a working engine away; the class reports it when it is rebuilt.
        return false;
      } finally {
        entry.checkedAt = this.#now();
        entry.recheck = undefined;
      }
    })();
    return entry.recheck;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  /** Closes the engines of classes that no longer exist. */
  async retain(classNames: ReadonlySet<string>): Promise<void> {
    for (const [name, entry] of this.#engines) {
      if (classNames.has(name)) continue;
      this.#engines.delete(name);
      await closeQuietly(entry.engine);
    }
  }

  async close(): Promise<void> {
    const all = [...this.#engines.values()];
    this.#engines.clear();
    await Promise.all(all.map((e) => closeQuietly(e.engine)));
  }

  async #openWsapi(cls: ClassForEngine): Promise<Opened> {
    const params = cls.spec.wsapi;
    if (params === undefined) throw new Error(`CopyClass ${cls.name} has driver wsapi but no wsapi parameters`);
    const { user, password } = await wsapiCredentials(this.#opts.readSecret, params.credentialsSecretRef);
    const engine = openWsapiEngine({
      endpoint: params.endpoint,
      user,
      password,
      cpg: params.cpg,
      insecureSkipTLSVerify: params.insecureSkipTLSVerify,
      ...(params.snapCPG === undefined ? {} : { snapCPG: params.snapCPG }),
      ...(params.caBundle === undefined ? {} : { caBundle: params.caBundle }),
      ...(this.#opts.wsapiLogger === undefined ? {} : { logger: this.#opts.wsapiLogger }),
      ...(this.#opts.onWsapiMalformed === undefined ? {} : { onMalformed: this.#opts.onWsapiMalformed }),
    });
    return { engine, credentials: credentialsDigest({ user, password }) };
  }

  async #openCim(cls: ClassForEngine): Promise<Opened> {
    const params = cls.spec.cim;
    if (params === undefined) throw new Error(`CopyClass ${cls.name} has driver cim but no cim parameters`);
    const { user, password } = await wsapiCredentials(this.#opts.readSecret, params.credentialsSecretRef);
    const engine = openCimEngine({
      endpoint: params.endpoint,
      user,
      password,
      namespace: params.namespace,
      interopNamespace: params.interopNamespace,
      // The class's name tags its subscriptions on the provider (subscription.ts).
      ...(this.#opts.cimIndications === undefined
        ? {}
        : { indications: { ...this.#opts.cimIndications, tag: `arraycopy:${cls.name}` } }),
      insecureSkipTLSVerify: params.insecureSkipTLSVerify,
      ...(params.caBundle === undefined ? {} : { caBundle: params.caBundle }),
      ...(this.#opts.wsapiLogger === undefined ? {} : { logger: this.#opts.wsapiLogger }),
    });
    return { engine, credentials: credentialsDigest({ user, password }) };
  }

  async #open(cls: ClassForEngine): Promise<Opened> {
    switch (cls.spec.driver) {
      case "embedded": {
        const params = cls.spec.embedded;
        const engine = await openEmbeddedEngine({
          dataDir: params?.dataDir ?? join(this.#opts.dataDir, cls.name),
          maxConcurrentCopies: params?.maxConcurrentCopies ?? 2,
        });
        return { engine, credentials: undefined };
      }
      case "wsapi":
        return this.#openWsapi(cls);
      case "cim":
        return this.#openCim(cls);
    }
  }
}

export async function wsapiCredentials(
  readSecret: RegistryOptions["readSecret"],
  ref: WsapiClassParameters["credentialsSecretRef"],
): Promise<{ user: string; password: string }> {
  if (readSecret === undefined) throw new Error("the wsapi driver needs a Secret reader, and this operator has none");
  const data = await readSecret(ref.namespace, ref.name);
  const user = data.username;
  const password = data.password;
  if (user === undefined || password === undefined || user === "" || password === "") {
    throw new Error(`Secret ${ref.namespace}/${ref.name} must hold the keys username and password`);
  }
  return { user, password };
}

/** A digest, so the registry can compare credentials without keeping a second copy of the password. */
function credentialsDigest(c: { user: string; password: string }): string {
  return createHash("sha256").update(c.user).update("\0").update(c.password).digest("hex");
}

async function closeQuietly(engine: Promise<Engine>): Promise<void> {
  try {
    await (await engine).close();
  } catch {
    // An engine that never opened has nothing to close.
  }
}
