// CopyClass resolution: the class a copy names, else the one it was made with (status.copyClassName, so a later
// change of default never moves a copy), else the single class annotated as default. Ambiguity is an error, as in
// external-snapshotter: two default classes mean no default.
import { defaultClassAnnotation } from "../../api/copyclass.ts";
import type { CopyClassSpec } from "../../api/copyclass.ts";
import type { CopyClassObject } from "./objects.ts";

export interface ResolvedClass {
  readonly name: string;
  readonly spec: CopyClassSpec;
  /** Changes whenever the spec does: engines are rebuilt when it moves. */
  readonly generation: number;
}

export type ClassResolution =
  | { readonly ok: true; readonly cls: ResolvedClass }
  | { readonly ok: false; readonly reason: "ClassNotFound" | "NoDefaultClass"; readonly message: string };

export function resolveClass(
  classes: readonly CopyClassObject[],
  requested: string | undefined,
  recorded: string | undefined,
): ClassResolution {
  const wanted = requested ?? recorded;
  if (wanted !== undefined) {
    const found = classes.find((c) => c.metadata.name === wanted);
    if (found === undefined) return { ok: false, reason: "ClassNotFound", message: `CopyClass ${wanted} not found` };
    return { ok: true, cls: toResolved(found) };
  }
  const defaults = classes.filter((c) => c.metadata.annotations?.[defaultClassAnnotation] === "true");
  const [only, ...rest] = defaults;
  if (only === undefined) {
    return {
      ok: false,
      reason: "NoDefaultClass",
      message: `no CopyClass is annotated ${defaultClassAnnotation}: "true"; name one in spec.copyClassName`,
    };
  }
  if (rest.length > 0) {
    const names = defaults
      .map((c) => c.metadata.name)
      .sort()
      .join(", ");
    return {
      ok: false,
      reason: "NoDefaultClass",
      message:
        `${defaults.length} CopyClasses are marked default (${names}); keep one, or name one in ` +
        `spec.copyClassName`,
    };
  }
  return { ok: true, cls: toResolved(only) };
}

function toResolved(c: CopyClassObject): ResolvedClass {
  return { name: c.metadata.name, spec: c.spec, generation: c.metadata.generation ?? 0 };
}
