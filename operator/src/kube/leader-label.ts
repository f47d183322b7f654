// The leader's pod carries the label `arraycopy.io/leader: "true"`, so that a Service can select the leader only:
// the chart's cim-listener Service does, because only the leader's engines are subscribed to the arrays'
// indications and a standby refuses deliveries. `kubectl get pods -l arraycopy.io/leader=true` shows it too.
//
// Invariants:
// - the label is wanted on while this replica leads and off otherwise; at start a replica is not leading, so a
//   container that restarts in the same pod (after SIGKILL) takes off the label its predecessor left;
// - one patch at a time, on the latest wanted state; a failed patch is tried again with backoff (1 s doubling to
//   30 s) until it succeeds or the wanted state no longer needs it;
// - each patch is a JSON patch with a `test` of the pod's resourceVersion, computed from the pod as read just before,
//   so a concurrent change is never overwritten and the patch is retried on the pod as it is.
import type { CoreV1Api } from "@kubernetes/client-node";
import type { Clock } from "./clock.ts";
import type { JsonPatchOp } from "./finalizers.ts";

export const leaderLabel = "arraycopy.io/leader";
const labelPath = "/metadata/labels/arraycopy.io~1leader";

export interface LeaderPodLabelOptions {
  readonly core: CoreV1Api;
  readonly namespace: string;
  readonly pod: string;
  readonly clock: Clock;
  readonly onError: (e: unknown, wanted: boolean) => void;
}

/** The JSON patch that brings `labels` to the wanted state, or undefined when it is there already. */
export function leaderLabelOps(
  labels: Readonly<Record<string, string>> | undefined,
  resourceVersion: string | undefined,
  wanted: boolean,
): JsonPatchOp[] | undefined {
  const has = labels?.[leaderLabel] === "true";
  if (has === wanted) return undefined;
  const guard: JsonPatchOp[] =
    resourceVersion === undefined ? [] : [{ op: "test", path: "/metadata/resourceVersion", value: resourceVersion }];
  if (!wanted) return [...guard, { op: "remove", path: labelPath }];
  if (labels === undefined)
    return [...guard, { op: "add", path: "/metadata/labels", value: { [leaderLabel]: "true" } }];
  return [...guard, { op: "add", path: labelPath, value: "true" }];
}

export class LeaderPodLabel {
  readonly #o: LeaderPodLabelOptions;
  #wanted = false;
  #applied: boolean | undefined;
  #running: Promise<void> | undefined;
  #closed = false;
  #wake: (() => void) | undefined;

  constructor(opts: LeaderPodLabelOptions) {
    this.#o = opts;
  }

  /** Wants the label on (leading) or off; resolves once the pod carries the wanted state or this is closed. */
  set(leading: boolean): Promise<void> {
    this.#wanted = leading;
    this.#wake?.();
    this.#running ??= this.#loop().finally(() => {
      this.#running = undefined;
    });
    return this.#running;
  }

  /** Stops retrying; a patch in flight still ends. */
  close(): void {
    this.#closed = true;
    this.#wake?.();
  }

  async #loop(): Promise<void> {
    let delayMs = 1_000;
    while (!this.#closed && this.#applied !== this.#wanted) {
      const wanted = this.#wanted;
      try {
        await this.#apply(wanted);
        this.#applied = wanted;
        delayMs = 1_000;
      } catch (e: unknown) {
        this.#o.onError(e, wanted);
        const pause = new AbortController();
        this.#wake = () => {
          pause.abort();
        };
        await this.#o.clock.sleep(delayMs, pause.signal);
        this.#wake = undefined;
        delayMs = Math.min(delayMs * 2, 30_000);
      }
    }
  }

  async #apply(wanted: boolean): Promise<void> {
    const { core, namespace, pod } = this.#o;
    const current = await core.readNamespacedPod({ namespace, name: pod });
    const ops = leaderLabelOps(current.metadata?.labels, current.metadata?.resourceVersion, wanted);
    if (ops !== undefined) await core.patchNamespacedPod({ namespace, name: pod, body: ops });
  }
}
