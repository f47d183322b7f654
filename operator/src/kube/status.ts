// Status writer: one controller's part of a custom resource's status, written by server-side apply to the /status
// subresource under the controller's own field manager, and skipped when nothing would change.
//
// Owns: the status fields and condition types the controller passes, nothing else. Under SSA the applied
// configuration is the complete set of fields this manager owns: a field or condition type left out of a later
// write is removed (if no other manager owns it), and other managers' fields and condition types are untouched
// (conditions are a map list keyed by type in our CRDs).
//
// Invariants:
// - `lastTransitionTime` is computed here from the cached object's conditions with conditions.ts: kept when the
//   status did not flip, `now` when it did or the type is new. So a reconcile that says the same thing twice
//   produces the same applied configuration.
// - A write is skipped only when it could not change the object: every desired field and condition already has
//   the desired value AND this manager already owns exactly those fields and condition types (read from
//   managedFields), so dropping a field is never mistaken for "unchanged".
// - `force: true`: a controller is the sole writer of its fields; a user who edits them is overridden.
// - Reconciling and Stalled are written only while True (conditions.ts `reported`): a controller says False, the
//   object shows nothing, which kstatus reads the same way.

import { PatchStrategy, setHeaderOptions } from "@kubernetes/client-node";
import type { CustomObjectsApi } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";
import { reported, setCondition, type Condition, type ConditionInput } from "./conditions.ts";
import { resourcePath, type RestWriter } from "./rest.ts";

export interface ManagedFieldsEntry {
  readonly manager?: string | undefined;
  readonly operation?: string | undefined;
  readonly subresource?: string | undefined;
  readonly fieldsV1?: unknown;
}

/** What the writer reads from the (cached) object. */
export interface StatusObject {
  readonly metadata?:
    | {
        readonly name?: string | undefined;
        readonly namespace?: string | undefined;
        readonly managedFields?: readonly ManagedFieldsEntry[] | undefined;
      }
    | undefined;
  readonly status?: Readonly<Record<string, unknown>> | undefined;
}

export interface DesiredStatus {
  /** Top-level status fields this controller owns, e.g. observedGeneration, syncState (not conditions). */
  readonly fields: Readonly<Record<string, unknown>>;
  /** The condition types this controller owns (Reconciling and Stalled only while True); transition times here. */
  readonly conditions: readonly ConditionInput[];
}

export interface StatusTarget {
  readonly apiVersion: string;
  readonly kind: string;
  readonly group: string;
  readonly version: string;
  readonly plural: string;
}

/** Sends one apply; the port tests and other kinds plug in. */
export type ApplyStatus = (namespace: string | undefined, name: string, body: Record<string, unknown>) => Promise<void>;

/** An ApplyStatus over client-node: PATCH …/status, application/apply-patch+yaml, fieldManager, force. */
export function customObjectStatusApplier(
  api: CustomObjectsApi,
  target: StatusTarget,
  fieldManager: string,
): ApplyStatus {
  const options = setHeaderOptions("Content-Type", PatchStrategy.ServerSideApply);
  const { group, version, plural } = target;
  return async (namespace, name, body) => {
    if (namespace === undefined) {
      await api.patchClusterCustomObjectStatus(
        { group, version, plural, name, body, fieldManager, force: true },
        options,
      );
    } else {
      await api.patchNamespacedCustomObjectStatus(
        { group, version, plural, namespace, name, body, fieldManager, force: true },
        options,
      );
    }
  };
}

/** The same apply as customObjectStatusApplier, sent by the RestWriter: the response is not read. */
export function restStatusApplier(rest: RestWriter, target: StatusTarget, fieldManager: string): ApplyStatus {
  const query = { fieldManager, force: "true" };
  return (namespace, name, body) =>
    rest.send({
      method: "PATCH",
      path: resourcePath(target, namespace, name, "status"),
      query,
      contentType: PatchStrategy.ServerSideApply,
      body: JSON.stringify(body),
    });
}

export interface StatusWriterOptions {
  readonly target: StatusTarget;
  /** One per controller, e.g. "arraycopy-virtualcopy". */
  readonly fieldManager: string;
  readonly apply: ApplyStatus;
  readonly clock: Clock;
}

export interface WriteResult {
  readonly written: boolean;
  /** The status this manager applied (or would have): its fields plus conditions with transition times. */
  readonly applied: Readonly<Record<string, unknown>>;
}

/** The status fields and condition types `manager` owns through Apply on the status subresource. */
export interface Owned {
  readonly fields: ReadonlySet<string>;
  readonly conditionTypes: ReadonlySet<string>;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Whether a managedFields entry is a status apply: the only entries `ownedStatus` reads (and caches must keep). */
export function isStatusApply(entry: ManagedFieldsEntry): boolean {
  return entry.operation === "Apply" && entry.subresource === "status";
}

/** Pure: reads managedFields' fieldsV1 ({"f:status": {"f:x": {}, "f:conditions": {"k:{\"type\":\"Ready\"}": …}}}). */
export function ownedStatus(managedFields: readonly ManagedFieldsEntry[] | undefined, manager: string): Owned {
  const fields = new Set<string>();
  const conditionTypes = new Set<string>();
  for (const entry of managedFields ?? []) {
    if (entry.manager !== manager || !isStatusApply(entry)) continue;
    const status = isRecord(entry.fieldsV1) ? entry.fieldsV1["f:status"] : undefined;
    if (!isRecord(status)) continue;
    for (const [k, v] of Object.entries(status)) {
      if (!k.startsWith("f:")) continue;
      const field = k.slice(2);
      if (field !== "conditions") {
        fields.add(field);
        continue;
      }
      for (const item of isRecord(v) ? Object.keys(v) : []) {
        const type = conditionTypeOfKey(item);
        if (type !== undefined) conditionTypes.add(type);
      }
    }
  }
  return { fields, conditionTypes };
}

function conditionTypeOfKey(item: string): string | undefined {
  if (!item.startsWith("k:")) return undefined;
  try {
    const parsed: unknown = JSON.parse(item.slice(2));
    return isRecord(parsed) && typeof parsed["type"] === "string" ? parsed["type"] : undefined;
  } catch {
    return undefined;
  }
}

/** Pure: JSON equality, insensitive to key order. */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, i) => jsonEqual(x, b[i]));
  if (isRecord(a) && isRecord(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}

function sameSet(a: ReadonlySet<string>, b: ReadonlySet<string>): boolean {
  return a.size === b.size && [...a].every((x) => b.has(x));
}

/** Pure: the conditions to apply, with transition times carried over from `current` unless the status flipped. */
export function withTransitionTimes(
  current: readonly Condition[] | undefined,
  desired: readonly ConditionInput[],
  now: Date,
): Condition[] {
  return desired.flatMap((input) => {
    const next = setCondition(current, input, now).conditions.find((c) => c.type === input.type);
    return next === undefined ? [] : [next];
  });
}

/** Pure: whether applying `status` as `manager` would leave `obj` exactly as it is. */
export function unchanged(
  obj: StatusObject,
  manager: string,
  fields: Readonly<Record<string, unknown>>,
  conditions: readonly Condition[],
): boolean {
  const owned = ownedStatus(obj.metadata?.managedFields, manager);
  const wantFields = new Set(Object.keys(fields).filter((k) => fields[k] !== undefined));
  if (!sameSet(owned.fields, wantFields)) return false;
  if (!sameSet(owned.conditionTypes, new Set(conditions.map((c) => c.type)))) return false;
  const status = obj.status ?? {};
  if (![...wantFields].every((k) => jsonEqual(status[k], fields[k]))) return false;
  const currentConditions = currentConditionsOf(obj);
  return conditions.every((c) =>
    jsonEqual(
      currentConditions?.find((x) => x.type === c.type),
      c,
    ),
  );
}

function currentConditionsOf(obj: StatusObject): readonly Condition[] | undefined {
  const list = obj.status?.["conditions"];
  return Array.isArray(list) ? list.filter(isCondition) : undefined;
}

function isCondition(v: unknown): v is Condition {
  return isRecord(v) && typeof v["type"] === "string" && typeof v["status"] === "string";
}

export class StatusWriter {
  readonly #o: StatusWriterOptions;

  constructor(opts: StatusWriterOptions) {
    this.#o = opts;
  }

  get fieldManager(): string {
    return this.#o.fieldManager;
  }

  /** Applies `desired` to `obj`'s status unless that would change nothing. API errors propagate. */
  async write(obj: StatusObject, desired: DesiredStatus): Promise<WriteResult> {
    const name = obj.metadata?.name;
    if (name === undefined || name === "") throw new Error("cannot write status: the object has no name");
    const namespace = obj.metadata?.namespace;
    const now = new Date(this.#o.clock.now());
    const conditions = withTransitionTimes(currentConditionsOf(obj), reported(desired.conditions), now);
    const applied: Record<string, unknown> = { ...desired.fields };
    if (conditions.length > 0) applied["conditions"] = conditions;
    if (unchanged(obj, this.#o.fieldManager, desired.fields, conditions)) return { written: false, applied };
    const metadata = namespace === undefined || namespace === "" ? { name } : { name, namespace };
    const body = { apiVersion: this.#o.target.apiVersion, kind: this.#o.target.kind, metadata, status: applied };
    await this.#o.apply(namespace === "" ? undefined : namespace, name, body);
    return { written: true, applied };
  }
}
