// CopyClass reconciler: tells whether the operator can drive the array a class names.
//
// Owns: the CopyClass status (field manager arraycopy-copyclass): Ready True once the class's engine is built and
// has answered one read (its capabilities in the message), else Ready False and Stalled True with the reason; and the
// engines' lifetimes: the engine of a deleted class is closed. Two classes marked default are reported on each.
// An unusable class is looked at again after as long as it has been Stalled (1 s to 5 min): a fixed Secret or an
// array back on line is noticed without a change to the class, and without the controller's error backoff.
// A class whose array pushes job indications to the operator's listener (cim with --cim-listener-port) also gets
// Indications: True (Arriving) or False with the reason (Subscribing, NotSubscribed, NotArriving: the jobs are then
// followed by the slow poll) and a Warning event when it turns False; it is looked at again every minute.
import { messageOf } from "../../engine/errors.ts";
import type { Capabilities } from "../../engine/port.ts";
import { findCondition, type ConditionInput } from "../../kube/conditions.ts";
import { after, done, type Reconcile } from "../../kube/controller.ts";
import { objectRef } from "../shared/publish.ts";
import { isNotFound } from "../../kube/errors.ts";
import type { StatusWriter } from "../../kube/status.ts";
import { defaultClassAnnotation } from "../../api/copyclass.ts";
import type { ControllerContext } from "../shared/context.ts";
import { recheckMinMs, stalledRecheckMaxMs, toResult } from "../shared/retry.ts";

export interface CopyClassDeps {
  readonly ctx: ControllerContext;
  readonly status: StatusWriter;
  /** Closes the engines of classes not in the set. */
  readonly retain: (classNames: ReadonlySet<string>) => Promise<void>;
}

/** How often a class with pushed indications is looked at to report whether they arrive. */
export const indicationsRecheckMs = 60_000;

export function describeCapabilities(c: Capabilities): string {
  const can = [
    c.virtualCopies && "virtual copies",
    c.physicalCopies && "physical copies",
    c.onlinePhysicalCopies && "online copies",
    c.resync && "resync",
    c.restore && "restore",
    c.csiImport && "volumes its CSI driver imports",
  ].filter(Boolean);
  return `${can.join(", ")}; ${c.maxConcurrentPhysicalCopies} physical copies at once`;
}

export function copyClassReconciler(deps: CopyClassDeps): Reconcile {
  return async (key) => {
    const all = deps.ctx.caches.classes.list();
    const cls = deps.ctx.caches.classes.get(key);
    if (cls === undefined) {
      await deps.retain(new Set(all.map((c) => c.metadata.name)));
      return done;
    }
    const gen = cls.metadata.generation ?? 0;
    const defaults = all
      .filter((c) => c.metadata.annotations?.[defaultClassAnnotation] === "true")
      .map((c) => c.metadata.name)
      .sort();
    const ambiguous =
      defaults.length > 1 && defaults.includes(cls.metadata.name)
        ? `; ${defaults.join(", ")} are all marked default, so copies naming no class have none`
        : "";
    let ready: boolean;
    let reason: string;
    let message: string;
    let indications: ConditionInput | undefined;
    try {
      const engine = await deps.ctx.engines.engineFor({ name: cls.metadata.name, generation: gen, spec: cls.spec });
      // One read proves the array answers with these credentials and this CA (drivers may connect lazily).
      await engine.listCopies();
      ready = true;
      reason = "EngineReady";
      message = `${cls.spec.driver} engine ready: ${describeCapabilities(engine.capabilities())}${ambiguous}`;
      const pushed = engine.indicationStatus?.();
      if (pushed !== undefined)
        indications = {
          type: "Indications",
          status: pushed.state === "Arriving" ? "True" : "False",
          reason: pushed.state,
          message: pushed.message,
          observedGeneration: gen,
        };
    } catch (e: unknown) {
      ready = false;
      reason = "EngineUnusable";
      message = `cannot drive the array: ${messageOf(e)}`;
    }
    const cond = (type: string, on: boolean): ConditionInput => ({
      type,
      status: on ? "True" : "False",
      reason,
      message,
      observedGeneration: gen,
    });
    try {
      await deps.status.write(cls, {
        fields: { observedGeneration: gen },
        conditions: [
          cond("Ready", ready),
          cond("Reconciling", false),
          cond("Stalled", !ready),
          ...(indications === undefined ? [] : [indications]),
        ],
      });
    } catch (e: unknown) {
      if (!isNotFound(e)) throw e;
    }
    const was = findCondition(cls.status?.conditions, "Indications");
    if (indications?.status === "False" && indications.reason !== "Subscribing" && was?.reason !== indications.reason)
      await deps.ctx.events.record({
        regarding: objectRef("CopyClass", cls.metadata),
        type: "Warning",
        reason: indications.reason,
        action: "Subscribe",
        note: indications.message,
      });
    if (ready && indications !== undefined)
      return after(indications.reason === "Subscribing" ? recheckMinMs * 2 : indicationsRecheckMs);
    if (ready) return done;
    const now = deps.ctx.clock.now();
    const stalled = findCondition(cls.status?.conditions, "Stalled");
    const since = stalled?.status === "True" ? Date.parse(stalled.lastTransitionTime) : now;
    return toResult({ kind: "recheck", since, maxMs: stalledRecheckMaxMs }, now);
  };
}
