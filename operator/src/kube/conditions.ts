// Conditions: pure helpers for metav1.Condition lists (apimachinery's meta.SetStatusCondition semantics).
//
// Invariants: at most one condition per type; setting a condition keeps its position in the list (so status
// diffs stay small) and appends new types at the end; `lastTransitionTime` moves only when `status` flips, so it
// tells users when the state changed, not when we last looked; reason, message and observedGeneration are always
// updated. Times are RFC 3339 with second precision, as metav1.Time serialises them.

export type ConditionStatus = "True" | "False" | "Unknown";

export interface Condition {
  readonly type: string;
  readonly status: ConditionStatus;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
  readonly lastTransitionTime: string;
}

/** What a controller says about one condition type; the transition time is ours to manage. */
export type ConditionInput = Omit<Condition, "lastTransitionTime">;

export interface SetResult {
  readonly conditions: readonly Condition[];
  /** False when the list is exactly as before, so the status write can be skipped. */
  readonly changed: boolean;
}

/** metav1.Time's wire format: seconds precision, UTC. */
export function metaTime(now: Date): string {
  return now.toISOString().replace(/\.\d+Z$/, "Z");
}

export function findCondition<C extends { readonly type: string }>(
  list: readonly C[] | undefined,
  type: string,
): C | undefined {
  return list?.find((c) => c.type === type);
}

export function isTrue(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === "True";
}

export function isFalse(list: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(list, type)?.status === "False";
}

function build(input: ConditionInput, lastTransitionTime: string): Condition {
  const base = { type: input.type, status: input.status, reason: input.reason, message: input.message };
  return input.observedGeneration === undefined
    ? { ...base, lastTransitionTime }
    : { ...base, observedGeneration: input.observedGeneration, lastTransitionTime };
}

function same(a: Condition, b: Condition): boolean {
  return (
    a.type === b.type &&
    a.status === b.status &&
    a.reason === b.reason &&
    a.message === b.message &&
    a.observedGeneration === b.observedGeneration &&
    a.lastTransitionTime === b.lastTransitionTime
  );
}

/** Sets one condition in a new list; `lastTransitionTime` is `now` for a new type or a status flip. */
export function setCondition(list: readonly Condition[] | undefined, input: ConditionInput, now: Date): SetResult {
  const current = list ?? [];
  const index = current.findIndex((c) => c.type === input.type);
  const existing = current[index];
  if (existing === undefined) {
    return { conditions: [...current, build(input, metaTime(now))], changed: true };
  }
  const transition = existing.status === input.status ? existing.lastTransitionTime : metaTime(now);
  const next = build(input, transition);
  if (same(existing, next)) return { conditions: current, changed: false };
  return { conditions: current.map((c, i) => (i === index ? next : c)), changed: true };
}

/**
 * kstatus's abnormal-true conditions: a controller reports them only while True. kstatus and Argo CD read an absent
 * one as False, so a settled object carries just its Ready (or Succeeded) condition, as Flux's objects and
 * cert-manager's Issuing do (a Ready copy's status is about 40 % smaller).
 */
const abnormalTrueTypes: ReadonlySet<string> = new Set(["Reconciling", "Stalled"]);

/** The conditions to write: all but the abnormal-true ones that are not True. */
export function reported(list: readonly ConditionInput[]): ConditionInput[] {
  return list.filter((c) => c.status === "True" || !abnormalTrueTypes.has(c.type));
}

/** Removes a condition type, e.g. one a newer version no longer reports. */
export function removeCondition(list: readonly Condition[] | undefined, type: string): SetResult {
  const current = list ?? [];
  const next = current.filter((c) => c.type !== type);
  return { conditions: next, changed: next.length !== current.length };
}
