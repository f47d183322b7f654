// The demo's view of the cluster: copies and jobs with their CIM state and conditions, and the latest Events,
// read with kubectl as a user would and rendered as plain-text tables. fetchView reads; renderView is pure.
import { convergence } from "./examples.ts";
import type { Kubectl } from "./converge.ts";

interface Condition {
  readonly type: string;
  readonly status: string;
  readonly reason?: string;
  readonly message?: string;
}

interface Item {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace?: string };
  readonly spec?: {
    readonly operation?: string;
    readonly copyRef?: { readonly name?: string };
    readonly schedule?: string;
    readonly timeZone?: string;
  };
  readonly status?: {
    readonly syncState?: string;
    readonly copyType?: string;
    readonly percentSynced?: number;
    readonly jobState?: string;
    readonly percentComplete?: number;
    readonly lastScheduleTime?: string;
    readonly nextScheduleTime?: string;
    readonly conditions?: readonly Condition[];
  };
}

interface Event {
  readonly type?: string;
  readonly reason?: string;
  readonly note?: string;
  readonly eventTime?: string | null;
  readonly deprecatedLastTimestamp?: string | null;
  readonly series?: { readonly lastObservedTime?: string; readonly count?: number };
  readonly metadata: { readonly creationTimestamp?: string };
  readonly regarding?: { readonly kind?: string; readonly name?: string };
}

export interface View {
  readonly items: readonly Item[];
  readonly events: readonly Event[];
  /** Controllers seen reconciling in /metrics: explains a copy without status. */
  readonly controllers: ReadonlySet<string>;
  readonly at: Date;
}

export async function fetchView(kubectl: Kubectl, controllers: ReadonlySet<string>): Promise<View> {
  const [objs, evs] = await Promise.all([
    kubectl([
      "get",
      "virtualcopies.arraycopy.io,physicalcopies.arraycopy.io,copyjobs.arraycopy.io,copyschedules.arraycopy.io",
      "-A",
      "-o",
      "json",
    ]),
    kubectl(["get", "events.events.k8s.io", "-A", "-o", "json"]),
  ]);
  if (objs.code !== 0) throw new Error(`cannot list copies and jobs: ${objs.stderr.trim()}`);
  if (evs.code !== 0) throw new Error(`cannot list events: ${evs.stderr.trim()}`);
  return {
    items: (JSON.parse(objs.stdout) as { items: Item[] }).items,
    events: (JSON.parse(evs.stdout) as { items: Event[] }).items,
    controllers,
    at: new Date(),
  };
}

function table(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  return [header, ...rows]
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i] ?? 0))
        .join("  ")
        .trimEnd(),
    )
    .join("\n");
}

const percent = (n: number | undefined) => (n === undefined ? "-" : `${n}%`);

function explain(item: Item, controllers: ReadonlySet<string>, c: Condition | undefined): string {
  if (c !== undefined) return c.reason ?? "";
  const controller = convergence[item.kind]?.controller;
  return controller !== undefined && !controllers.has(controller)
    ? `(no ${controller} controller in this operator yet)`
    : "(not reconciled yet)";
}

function eventTime(e: Event): string {
  return e.series?.lastObservedTime ?? e.eventTime ?? e.deprecatedLastTimestamp ?? e.metadata.creationTimestamp ?? "";
}

/** Times as numbers: the API mixes second and microsecond precision, which string order gets wrong. */
const eventMs = (e: Event) => Date.parse(eventTime(e)) || 0;

function age(iso: string, now: Date): string {
  const s = Math.max(0, Math.round((now.getTime() - Date.parse(iso)) / 1000));
  return Number.isNaN(s) ? "?" : s < 120 ? `${s}s` : `${Math.round(s / 60)}m`;
}

export function renderView(view: View, eventCount = 8): string {
  const named = (i: Item) => `${i.metadata.namespace ?? ""}/${i.metadata.name}`;
  const cond = (i: Item, type: string) => i.status?.conditions?.find((c) => c.type === type);
  const copies = view.items
    .filter((i) => i.kind === "VirtualCopy" || i.kind === "PhysicalCopy")
    .map((i) => {
      const ready = cond(i, "Ready");
      return [
        i.kind,
        named(i),
        i.status?.syncState ?? "-",
        i.status?.copyType ?? "-",
        percent(i.status?.percentSynced),
        ready?.status ?? "-",
        explain(i, view.controllers, ready),
      ];
    });
  const jobs = view.items
    .filter((i) => i.kind === "CopyJob")
    .map((i) => {
      const done = cond(i, "Succeeded");
      return [
        named(i),
        i.spec?.operation ?? "-",
        i.spec?.copyRef?.name ?? "-",
        i.status?.jobState ?? "-",
        percent(i.status?.percentComplete),
        done?.status ?? "-",
        explain(i, view.controllers, done),
      ];
    });
  const schedules = view.items
    .filter((i) => i.kind === "CopySchedule")
    .map((i) => {
      const ready = cond(i, "Ready");
      return [
        named(i),
        `${i.spec?.schedule ?? "-"} ${i.spec?.timeZone ?? "UTC"}`,
        i.status?.lastScheduleTime ?? "-",
        i.status?.nextScheduleTime ?? "-",
        ready?.status ?? "-",
        explain(i, view.controllers, ready),
      ];
    });
  const events = [...view.events]
    .sort((a, b) => eventMs(a) - eventMs(b))
    .slice(-eventCount)
    .map((e) => {
      const count = (e.series?.count ?? 1) > 1 ? ` (x${e.series?.count ?? 1})` : "";
      return [
        age(eventTime(e), view.at),
        e.type ?? "",
        e.reason ?? "",
        `${e.regarding?.kind ?? ""}/${e.regarding?.name ?? ""}`,
        `${e.note ?? ""}${count}`,
      ];
    });
  return [
    "COPIES",
    table(["KIND", "NAME", "SYNCSTATE", "COPYTYPE", "PROGRESS", "READY", "REASON"], copies),
    "",
    "JOBS",
    table(["NAME", "OPERATION", "COPY", "JOBSTATE", "PROGRESS", "SUCCEEDED", "REASON"], jobs),
    "",
    "SCHEDULES",
    table(["NAME", "SCHEDULE", "LAST", "NEXT", "READY", "REASON"], schedules),
    "",
    `EVENTS (last ${eventCount})`,
    table(["AGE", "TYPE", "REASON", "OBJECT", "NOTE"], events),
  ].join("\n");
}
