// The engine registry: the only place that knows driver names. It builds one engine per CopyClass, reuses it
// while the class's generation stays the same, and closes the old one when the class changes or goes away.
// A class whose engine cannot be built is reported to the caller (a condition on the copy), never a crash.
import { join } from "node:path";
import type { Engine } from "./port.ts";
import { openEmbeddedEngine } from "./embedded/engine.ts";

export interface ClassForEngine {
  readonly name: string;
  readonly generation: number;
  readonly spec: {
    readonly driver: "embedded" | "wsapi";
    readonly embedded?: { readonly dataDir?: string | undefined; readonly maxConcurrentCopies: number } | undefined;
  };
}

export interface RegistryOptions {
  /** Embedded engines keep their volumes in <dataDir>/<class name> unless the class names a directory. */
  readonly dataDir: string;
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
        throw new Error("the wsapi driver is not available in this build yet");
    }
  }
}

async function closeQuietly(engine: Promise<Engine>): Promise<void> {
  try {
    await (await engine).close();
  } catch {
    // An engine that never opened has nothing to close.
  }
}
