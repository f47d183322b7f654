// The first step of every copy reconcile: the copy's class → the class's engine → what the array holds for the
// copy. Either all three are there (a Link), or the step that failed is named by a typed Blocked reason that the
// kind's status maps to its conditions as it is — no controller re-derives it from loose fields.
import { messageOf, withContext, type EngineError } from "../../engine/errors.ts";
import type { Capabilities, Engine } from "../../engine/port.ts";
import { resolveClass, type ResolvedClass } from "./classes.ts";
import type { ControllerContext } from "./context.ts";

export type Blocked =
  /** No class to use: the one named is missing, or there is no single default. */
  | { readonly reason: "ClassNotFound" | "NoDefaultClass"; readonly message: string }
  /** The class resolved but no engine could be built from it (a bad parameter, a missing Secret). */
  | { readonly reason: "ClassUnusable"; readonly message: string; readonly cls: ResolvedClass }
  /** The engine could not answer what the array holds; `error` says whether it refused us (AccessDenied). */
  | {
      readonly reason: "ArrayUnavailable";
      readonly message: string;
      readonly cls: ResolvedClass;
      readonly error: EngineError;
    };

export type Link<O> =
  | { readonly ok: true; readonly cls: ResolvedClass; readonly capabilities: Capabilities; readonly observed: O }
  | { readonly ok: false; readonly blocked: Blocked };

export interface Connected<O> {
  readonly link: Link<O>;
  /** Present whenever the link is ok (and when only observing failed). */
  readonly engine: Engine | undefined;
}

/** What the copy says of its class: the one it names, and the one it was made with (status). */
export interface ClassChoice {
  readonly requested: string | undefined;
  readonly recorded: string | undefined;
}

export async function connect<O>(
  ctx: ControllerContext,
  choice: ClassChoice,
  observe: (engine: Engine) => Promise<O>,
  what: string,
): Promise<Connected<O>> {
  const resolution = resolveClass(ctx.caches.classes.list(), choice.requested, choice.recorded);
  if (!resolution.ok) {
    return {
      link: { ok: false, blocked: { reason: resolution.reason, message: resolution.message } },
      engine: undefined,
    };
  }
  const cls = resolution.cls;
  let engine: Engine;
  try {
    engine = await ctx.engines.engineFor(cls);
  } catch (e: unknown) {
    const message = `CopyClass ${cls.name}: ${messageOf(e)}`;
    return { link: { ok: false, blocked: { reason: "ClassUnusable", message, cls } }, engine: undefined };
  }
  try {
    const observed = await observe(engine);
    return { link: { ok: true, cls, capabilities: engine.capabilities(), observed }, engine };
  } catch (e: unknown) {
    const error = withContext(`cannot observe ${what}`, e);
    return { link: { ok: false, blocked: { reason: "ArrayUnavailable", message: error.message, cls, error } }, engine };
  }
}

/** The class a link resolved, blocked or not (a deletion policy still comes from it). */
export function classOf<O>(link: Link<O>): ResolvedClass | undefined {
  return link.ok ? link.cls : "cls" in link.blocked ? link.blocked.cls : undefined;
}

/** The engine's error behind a block, when the array answered with one. */
export function errorOf(b: Blocked): EngineError | undefined {
  return b.reason === "ArrayUnavailable" ? b.error : undefined;
}
