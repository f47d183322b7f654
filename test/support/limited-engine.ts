// An engine that lacks capabilities in front of a real one (our own port, so faking it is allowed): it says it
// cannot do what `missing` names, and counts every mutating call that still reaches it, so a test can show the
// operator asked nothing of it beyond what it offers. The calls themselves go to the real engine unchanged.
import type { Capabilities, Engine } from "../../operator/src/engine/port.ts";

const mutating = new Set([
  "createVirtualCopy",
  "createGroupVirtualCopy",
  "createPhysicalCopy",
  "startJob",
  "halt",
  "deleteCopy",
]);

export class LimitedEngine {
  /** Mutating calls that reached the engine, by method. */
  readonly calls = new Map<string, number>();
  readonly #missing: Partial<Capabilities>;

  constructor(missing: Partial<Capabilities>) {
    this.#missing = missing;
  }

  /** The wrapped engine, as the operator sees it. */
  wrap(inner: Engine): Engine {
    const missing = this.#missing;
    const calls = this.calls;
    return new Proxy(inner, {
      get(target, property, receiver) {
        if (property === "capabilities") return () => ({ ...target.capabilities(), ...missing });
        const value: unknown = Reflect.get(target, property, receiver);
        if (typeof value !== "function") return value;
        const method = value as (...args: unknown[]) => unknown;
        return (...args: unknown[]) => {
          if (typeof property === "string" && mutating.has(property))
            calls.set(property, (calls.get(property) ?? 0) + 1);
          return method.apply(target, args);
        };
      },
    });
  }
}
