// The engine registry: the only place that knows driver names. It builds one engine per CopyClass, reuses it
// while the class's generation stays the same, and closes the old one when the class changes or goes away.
// A class whose engine cannot be built is reported to the caller (a condition on the copy), never a crash.
// wsapi classes read their credentials from the class's Secret (keys username, password) through the injected
// readSecret, so this module stays free of Kubernetes.
import { join } from "node:path";
import type { Engine } from "./port.ts";
import { openEmbeddedEngine } from "./embedded/engine.ts";
import { openWsapiEngine } from "./wsapi/engine.ts";
import type { WsapiLogger } from "./wsapi/client.ts";

export interface ClassForEngine {
  readonly name: string;
  readonly generation: number;
  readonly spec: {
    readonly driver: "embedded" | "wsapi";
    readonly embedded?: { readonly dataDir?: string | undefined; readonly maxConcurrentCopies: number } | undefined;
    readonly wsapi?: WsapiClassParameters | undefined;
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

export interface RegistryOptions {
  /** Embedded engines keep their volumes in <dataDir>/<class name> unless the class names a directory. */
  readonly dataDir: string;
  /** A Secret's data, decoded; needed for wsapi classes. Rejects (or returns no such keys) when it is missing. */
  readonly readSecret?: (namespace: string, name: string) => Promise<Readonly<Record<string, string>>>;
  /** Warnings from wsapi drivers (TLS verification off, session renewed). */
  readonly wsapiLogger?: WsapiLogger;
}

interface Entry {
  readonly generation: number;
  readonly engine: Promise<Engine>;
}

export class EngineRegistry {
  readonly #opts: RegistryOptions;
  readonly #engines = new Map<string, Entry>();

  constructor(opts: RegistryOptions) {
    this.#opts = opts;
  }

  engineFor(cls: ClassForEngine): Promise<Engine> {
    const current = this.#engines.get(cls.name);
    if (current?.generation === cls.generation) return current.engine;
    if (current !== undefined) void closeQuietly(current.engine);
    const engine = this.#open(cls);
    this.#engines.set(cls.name, { generation: cls.generation, engine });
    // A failed build is not cached: the next reconcile tries again (the class or its Secret may be fixed).
    engine.catch(() => {
      if (this.#engines.get(cls.name)?.engine === engine) this.#engines.delete(cls.name);
    });
    return engine;
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

  async #openWsapi(cls: ClassForEngine): Promise<Engine> {
    const params = cls.spec.wsapi;
    if (params === undefined) throw new Error(`CopyClass ${cls.name} has driver wsapi but no wsapi parameters`);
    const { user, password } = await wsapiCredentials(this.#opts.readSecret, params.credentialsSecretRef);
    return openWsapiEngine({
      endpoint: params.endpoint,
      user,
      password,
      cpg: params.cpg,
      insecureSkipTLSVerify: params.insecureSkipTLSVerify,
      ...(params.snapCPG === undefined ? {} : { snapCPG: params.snapCPG }),
      ...(params.caBundle === undefined ? {} : { caBundle: params.caBundle }),
      ...(this.#opts.wsapiLogger === undefined ? {} : { logger: this.#opts.wsapiLogger }),
    });
  }

  async #open(cls: ClassForEngine): Promise<Engine> {
    switch (cls.spec.driver) {
      case "embedded": {
        const params = cls.spec.embedded;
        return openEmbeddedEngine({
          dataDir: params?.dataDir ?? join(this.#opts.dataDir, cls.name),
          maxConcurrentCopies: params?.maxConcurrentCopies ?? 2,
        });
      }
      case "wsapi":
        return this.#openWsapi(cls);
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

async function closeQuietly(engine: Promise<Engine>): Promise<void> {
  try {
    await (await engine).close();
  } catch {
    // An engine that never opened has nothing to close.
  }
}
