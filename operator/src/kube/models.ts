// client-node does not re-export its serializer from the package root; dist/serializer.js is its public wrapper.
import { ObjectSerializer } from "@kubernetes/client-node/dist/serializer.js";
// Building client-node model instances. Its models are classes, and the project's lint (typescript-eslint
// no-unsafe-class-instance-assignment) rightly refuses object literals where a class instance is expected, so
// request bodies are built through their constructors. The constructors take no arguments and set nothing.

export function make<T extends object>(ctor: new () => T, fields: Partial<T>): T {
  return Object.assign(new ctor(), fields);
}

/**
 * A timestamp read from the API as epoch ms. client-node types MicroTime fields as V1MicroTime but does not
 * deserialise them (the type is not in its serializer's map), so at run time they arrive as strings.
 */
export function toMillis(v: unknown): number | undefined {
  if (v instanceof Date) return v.getTime();
  if (typeof v !== "string") return undefined;
  const ms = Date.parse(v);
  return Number.isNaN(ms) ? undefined : ms;
}

/**
 * A client-node model instance from the API's JSON (the wire's field names), through client-node's own
 * deserialiser: for request bodies too deep to build constructor by constructor (a Pod, a PersistentVolume).
 */
export function fromJson<T extends object>(ctor: new () => T, json: Readonly<Record<string, unknown>>): T {
  const model: unknown = ObjectSerializer.deserialize(json, ctor.name);
  if (!(model instanceof ctor)) throw new Error(`cannot build a ${ctor.name} from JSON`);
  return model;
}

/** The API's JSON of a client-node model instance (the inverse of fromJson). */
export function toJson(type: string, model: object): Record<string, unknown> {
  return ObjectSerializer.serialize(model, type) as Record<string, unknown>;
}
