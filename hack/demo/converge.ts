// Waiting for the examples to converge, as a user would: `kubectl wait` on each kind's condition. Which kinds to
// wait for comes from the operator's own metrics: a kind counts once its controller has reconciled anything
// (arraycopy_reconcile_total{controller="…"}), so the demo and the e2e test widen by themselves when the
// PhysicalCopy and CopyJob controllers land, and a guard fails loudly if a controller writes status without
// showing up there (the wait would otherwise be skipped silently).
import { setTimeout as sleep } from "node:timers/promises";
import { convergence, type ExampleObject } from "./examples.ts";

export interface KubectlResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** kubectl bound to one cluster; never throws on a non-zero exit. */
export type Kubectl = (args: readonly string[]) => Promise<KubectlResult>;

export async function getText(url: string): Promise<{ status: number; body: string }> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return { status: res.status, body: await res.text() };
}

/** Controllers with at least one reconcile in a Prometheus text exposition. */
export function reconciledControllers(metrics: string): Set<string> {
  const found = new Set<string>();
  for (const m of metrics.matchAll(/^arraycopy_reconcile_total\{[^}]*controller="([^"]+)"[^}]*\} [1-9]/gm)) {
    if (m[1] !== undefined) found.add(m[1]);
  }
  return found;
}

/**
 * The controllers that reconcile, read from /metrics until every known one has shown up or `settleMs` has passed:
 * objects were applied before this is called, so a controller that runs has reconciled them by then.
 */
export async function runningControllers(operatorUrl: string, settleMs = 5_000): Promise<Set<string>> {
  const known = Object.values(convergence).map((c) => c.controller);
  const deadline = Date.now() + settleMs;
  for (;;) {
    const seen = reconciledControllers((await getText(`${operatorUrl}/metrics`)).body);
    if (known.every((c) => seen.has(c)) || Date.now() > deadline) return seen;
    await sleep(250);
  }
}

export interface Awaited extends ExampleObject {
  readonly condition: string;
}

/** The objects to wait for: those of kinds whose controller runs. */
export function awaitedObjects(objects: readonly ExampleObject[], controllers: ReadonlySet<string>): Awaited[] {
  return objects.flatMap((o) => {
    const c = convergence[o.kind];
    return c !== undefined && controllers.has(c.controller) ? [{ ...o, condition: c.condition }] : [];
  });
}

/** Kinds left out of the wait because their controller did not show up (said aloud by the callers). */
export function skippedKinds(controllers: ReadonlySet<string>): string[] {
  return Object.entries(convergence)
    .filter(([, c]) => !controllers.has(c.controller))
    .map(([kind]) => kind);
}

const ref = (o: ExampleObject) => `${o.kind.toLowerCase()}.arraycopy.io/${o.name}`;

/**
 * `kubectl wait` for every awaited object (one call per kind, namespace and condition, run together), then the
 * guard: no object of a skipped kind may have status. Resolves with the problems found, empty when all is well.
 */
export async function waitConverged(
  kubectl: Kubectl,
  objects: readonly ExampleObject[],
  controllers: ReadonlySet<string>,
  timeoutS: number,
): Promise<string[]> {
  const groups = new Map<string, Awaited[]>();
  for (const o of awaitedObjects(objects, controllers)) {
    const key = `${o.kind}|${o.namespace ?? ""}|${o.condition}`;
    groups.set(key, [...(groups.get(key) ?? []), o]);
  }
  const problems = await Promise.all(
    [...groups.values()].map(async (group) => {
      const [first] = group;
      if (first === undefined) return [];
      const ns = first.namespace === undefined ? [] : ["-n", first.namespace];
      const res = await kubectl([
        "wait",
        `--for=condition=${first.condition}`,
        `--timeout=${timeoutS}s`,
        ...ns,
        ...group.map(ref),
      ]);
      if (res.code === 0) return [];
      const states = await Promise.all(
        group.map(async (o) => {
          const status = (await kubectl(["get", ref(o), ...ns, "-o", "jsonpath={.status}"])).stdout;
          return `  ${ref(o)}: ${status || "(no status)"}`;
        }),
      );
      return [`kubectl wait --for=condition=${first.condition} failed: ${res.stderr.trim()}\n${states.join("\n")}`];
    }),
  );
  const skipped = new Set(skippedKinds(controllers));
  for (const o of objects.filter((x) => skipped.has(x.kind))) {
    const ns = o.namespace === undefined ? [] : ["-n", o.namespace];
    const status = (await kubectl(["get", ref(o), ...ns, "-o", "jsonpath={.status}"])).stdout.trim();
    if (status !== "" && status !== "{}") {
      problems.push([
        `${ref(o)} has status but no ${convergence[o.kind]?.controller ?? "?"} reconciles show in /metrics: ` +
          `fix the detection in hack/demo/converge.ts`,
      ]);
    }
  }
  return problems.flat();
}
