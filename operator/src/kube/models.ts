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
