// Runtime-invalid resources on the real apiserver: each ends in a condition with a reason and a Warning event,
// and then the operator leaves them alone. "No hot loop" is measured, not assumed: once everything settled, a
// window of MEASURE_MS counts reconciles (the operator's own arraycopy_reconcile_total) and API writes (the
// apiserver's apiserver_request_total for our resources and for Events). A status write while nothing changes —
// a lastError.time or message that moves on every retry — is a bug, so the bound on status writes is zero.
//
// The operator watches the whole cluster, so the counts include whatever earlier test files left in the shared
// control plane; per-object figures divide by every object of the kind the apiserver holds (an upper bound on
// what ours cost). Figures are printed and recorded in docs/robustness.md.
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { arrayName } from "../../operator/src/controllers/shared/naming.ts";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import { eventually, freshNamespace, installCrds, kubectl, kubectlAsyncOk, kubectlOk } from "../support/cluster.ts";
import {
  applyYaml,
  claimOf,
  conditionOf,
  embeddedClass,
  eventsFor,
  getObject,
  startOperator,
  type ConditionView,
  type RunningOperator,
} from "../support/operator.ts";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const api = "arraycopy.io/v1alpha1";
const suffix = Math.random().toString(36).slice(2, 7);
const cls = `hl-${suffix}`;
/** Created only after the squatted copy exists, so that its engine holds the name first. */
const lateCls = `hl-late-${suffix}`;
const SETTLE_MS = Number(process.env.HOT_LOOP_SETTLE_MS ?? 20_000);
const MEASURE_MS = Number(process.env.HOT_LOOP_MEASURE_MS ?? 60_000);
/** Reconciles per minute per object once settled: exponential backoff or a wait for a change should give ~0. */
const MAX_RECONCILES_PER_MIN_PER_OBJECT = 10;

let ns: string;
let op: RunningOperator;
let registry: EngineRegistry;

interface Obj {
  metadata: { name: string; uid: string };
  status?: Record<string, unknown> & { conditions?: ConditionView[] };
}

const vc = (name: string, spec: Record<string, unknown>) => ({
  apiVersion: api,
  kind: "VirtualCopy",
  metadata: { name, namespace: ns },
  spec: { copyClassName: cls, ...spec },
});
const pvAndPvc = (claim: string, volume: string, driver?: string) => claimOf(ns, claim, volume, driver);

/** One runtime-invalid resource: the condition it must end in and the Warning event that says so. */
interface Case {
  readonly name: string;
  readonly why: string;
  readonly kind: "virtualcopy" | "physicalcopy" | "copyjob";
  readonly condition: "Ready" | "Succeeded";
  readonly reason: string;
  readonly event: string;
}

const cases: readonly Case[] = [
  {
    name: "missing-pvc",
    why: "the PVC does not exist",
    kind: "virtualcopy",
    condition: "Ready",
    reason: "SourceNotFound",
    event: "SourceNotFound",
  },
  {
    name: "missing-class",
    why: "the CopyClass does not exist",
    kind: "virtualcopy",
    condition: "Ready",
    reason: "ClassNotFound",
    event: "ClassNotFound",
  },
  {
    name: "other-driver",
    why: "the PV belongs to another CSI driver",
    kind: "virtualcopy",
    condition: "Ready",
    reason: "SourceDriverMismatch",
    event: "SourceDriverMismatch",
  },
  {
    name: "missing-target",
    why: "an offline copy's target volume does not exist on the array (the array refuses the copy: 23)",
    kind: "physicalcopy",
    condition: "Ready",
    reason: "CopyFailed",
    event: "CopyFailed",
  },
  {
    name: "second-on-target",
    why: "a second physical copy onto a target another copy is associated with (array refusal, EXISTENT_VOL)",
    kind: "physicalcopy",
    condition: "Ready",
    reason: "CopyFailed",
    event: "CopyFailed",
  },
  {
    name: "resync-unassociated",
    why: "resync of a copy made without saveSnapshot is impossible",
    kind: "copyjob",
    condition: "Succeeded",
    reason: "NotAssociated",
    event: "Failed",
  },
  {
    name: "squatted",
    why: "the array name is held by another owner (array refusal, EXISTENT_VOL)",
    kind: "virtualcopy",
    condition: "Ready",
    reason: "NameTaken",
    event: "NameTaken",
  },
  {
    name: "retained",
    why: "the array refuses to delete a copy under retention (array refusal on delete)",
    kind: "virtualcopy",
    condition: "Ready",
    reason: "DeletionRefused",
    event: "DeletionRefused",
  },
];

beforeAll(async () => {
  installCrds();
  ns = freshNamespace("hl");
  applyYaml(embeddedClass(cls));
  registry = new EngineRegistry({ dataDir: mkdtempSync(join(tmpdir(), "hot-loop-")) });
  op = startOperator([], { registry });
  const engine = await op.engine(cls);
  await engine.volumes.createVolume("data", 1 << 20);
});

afterAll(async () => {
  await op.stop();
  kubectl(["delete", "copyclass", cls, lateCls, "--wait=false", "--ignore-not-found"]);
});

/** Sums a Prometheus counter's samples whose labels pass `keep`. */
function sumCounter(text: string, metric: string, keep: (labels: Record<string, string>) => boolean): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(`${metric}{`)) continue;
    const m = /^[^{]+\{(.*)\}\s+(\S+)/.exec(line);
    if (m === null) continue;
    const labels = Object.fromEntries(
      [...(m[1] ?? "").matchAll(/(\w+)="([^"]*)"/g)].map((l) => [l[1] ?? "", l[2] ?? ""]),
    );
    if (keep(labels)) total += Number(m[2]);
  }
  return total;
}

interface Snapshot {
  readonly reconciles: Record<string, number>;
  readonly statusWrites: number;
  readonly objectWrites: number;
  readonly eventWrites: number;
}

const controllers = ["virtualcopy", "physicalcopy", "copyjob", "copyclass"] as const;
const ourResources = new Set(["virtualcopies", "physicalcopies", "copyjobs", "copyclasses"]);
const writeVerbs = new Set(["PATCH", "POST", "PUT", "APPLY"]);

async function snapshot(): Promise<Snapshot> {
  const mine = await (await fetch(`http://127.0.0.1:${String(await op.metricsPort)}/metrics`)).text();
  const apiserver = await kubectlAsyncOk(["get", "--raw", "/metrics"]);
  const reconciles = Object.fromEntries(
    controllers.map((c) => [c, sumCounter(mine, "arraycopy_reconcile_total", (l) => l.controller === c)]),
  );
  const ours = (l: Record<string, string>) =>
    l.group === "arraycopy.io" && ourResources.has(l.resource ?? "") && writeVerbs.has(l.verb ?? "");
  return {
    reconciles,
    statusWrites: sumCounter(apiserver, "apiserver_request_total", (l) => ours(l) && l.subresource === "status"),
    objectWrites: sumCounter(apiserver, "apiserver_request_total", (l) => ours(l) && l.subresource !== "status"),
    eventWrites: sumCounter(
      apiserver,
      "apiserver_request_total",
      (l) => l.resource === "events" && writeVerbs.has(l.verb ?? ""),
    ),
  };
}

const countOf = (plural: string) =>
  (JSON.parse(kubectlOk(["get", plural, "-A", "-o", "json"])) as { items: unknown[] }).items.length;

describe("runtime-invalid resources", () => {
  it(
    "each end in a condition with a reason and a Warning event, and then cost no hot loop",
    async () => {
      const engine = await op.engine(cls);
      applyYaml(
        ...pvAndPvc("ebs-claim", "data", "ebs.csi.aws.com"),
        vc("missing-pvc", { source: { persistentVolumeClaimName: "no-such-claim" } }),
        { ...vc("missing-class", {}), spec: { copyClassName: `no-such-${suffix}`, source: { volumeName: "data" } } },
        vc("other-driver", { source: { persistentVolumeClaimName: "ebs-claim" } }),
        {
          apiVersion: api,
          kind: "PhysicalCopy",
          metadata: { name: "missing-target", namespace: ns },
          spec: { copyClassName: cls, source: { volumeName: "data" }, target: { volumeName: "no-such-volume" } },
        },
        {
          apiVersion: api,
          kind: "PhysicalCopy",
          metadata: { name: "clone", namespace: ns },
          spec: { copyClassName: cls, source: { volumeName: "data" }, target: { create: {} } },
        },
        vc("retained", { source: { volumeName: "data" }, expirationHours: 2, retentionHours: 1 }),
        { ...vc("squatted", {}), spec: { copyClassName: lateCls, source: { volumeName: "data" } } },
      );

      // The name the operator will ask for is taken first by another owner on the late class's array.
      const squatted = await eventually(() => {
        const o = getObject<Obj>("virtualcopy", ns, "squatted");
        expect(o?.metadata.uid).toBeTypeOf("string");
        return o as Obj;
      });
      const late = await registry.engineFor({
        name: lateCls,
        generation: 1,
        spec: { driver: "embedded", embedded: { maxConcurrentCopies: 2 } },
      });
      if (late.volumes === undefined) throw new Error("embedded engine without volumes");
      await late.volumes.createVolume("data", 1 << 20);
      await late.createVirtualCopy({
        name: arrayName("vc", squatted.metadata.uid),
        source: "data",
        readOnly: true,
        owner: { namespace: ns, name: "someone-else", uid: "00000000-0000-0000-0000-000000000000" },
      });
      applyYaml(embeddedClass(lateCls));

      await eventually(() => {
        expect(conditionOf(getObject<Obj>("physicalcopy", ns, "clone"), "Ready")?.status).toBe("True");
      }, 60_000);
      await engine.volumes.createVolume("shared-tgt", 1 << 20);
      applyYaml({
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: { name: "first-on-target", namespace: ns },
        spec: {
          copyClassName: cls,
          source: { volumeName: "data" },
          target: { volumeName: "shared-tgt" },
          saveSnapshot: true,
        },
      });
      await eventually(() => {
        expect(conditionOf(getObject<Obj>("physicalcopy", ns, "first-on-target"), "Ready")?.status).toBe("True");
      }, 60_000);
      applyYaml({
        apiVersion: api,
        kind: "PhysicalCopy",
        metadata: { name: "second-on-target", namespace: ns },
        spec: { copyClassName: cls, source: { volumeName: "data" }, target: { volumeName: "shared-tgt" } },
      });
      applyYaml({
        apiVersion: api,
        kind: "CopyJob",
        metadata: { name: "resync-unassociated", namespace: ns },
        spec: { copyRef: { kind: "PhysicalCopy", name: "clone" }, operation: "Resync" },
      });
      await eventually(() => {
        expect(conditionOf(getObject<Obj>("virtualcopy", ns, "retained"), "Ready")?.status).toBe("True");
      }, 60_000);
      await kubectlAsyncOk(["delete", "virtualcopy", "retained", "-n", ns, "--wait=false"]);

      for (const c of cases) {
        await eventually(
          () => {
            const obj = getObject<Obj>(c.kind, ns, c.name);
            const cond = conditionOf(obj, c.condition);
            expect(cond, `${c.name}: ${c.why}`).toMatchObject({ status: "False", reason: c.reason });
            expect(cond?.message.length, `${c.name} says why`).toBeGreaterThan(0);
            expect(eventsFor(ns, c.name), `${c.name}: a Warning event`).toContainEqual(
              expect.objectContaining({ type: "Warning", reason: c.event }),
            );
          },
          60_000,
          250,
        );
      }
      // The squatter's copy is untouched: a refusal never takes over another owner's object.
      expect((await late.observeCopy(arrayName("vc", squatted.metadata.uid)))?.owner.name).toBe("someone-else");
      expect(
        (await engine.listCopies())
          .filter((c) => c.owner.namespace === ns)
          .map((c) => c.owner.name)
          .sort(),
      ).toEqual(["clone", "first-on-target", "retained"]);
      expect(
        conditionOf(getObject<Obj>("physicalcopy", ns, "first-on-target"), "Ready")?.status,
        "the first copy is untouched",
      ).toBe("True");

      // Let backoff reach its stride, then measure a quiet window.
      await sleep(SETTLE_MS);
      const statusBefore = cases.map((c) => JSON.stringify(getObject<Obj>(c.kind, ns, c.name)?.status));
      const before = await snapshot();
      await sleep(MEASURE_MS);
      const after = await snapshot();
      const statusAfter = cases.map((c) => JSON.stringify(getObject<Obj>(c.kind, ns, c.name)?.status));

      const minutes = MEASURE_MS / 60_000;
      const objects: Record<string, number> = {
        virtualcopy: countOf("virtualcopies"),
        physicalcopy: countOf("physicalcopies"),
        copyjob: countOf("copyjobs"),
        copyclass: countOf("copyclasses"),
      };
      const figures = controllers.map((c) => {
        const n = (after.reconciles[c] ?? 0) - (before.reconciles[c] ?? 0);
        const perObjectPerMin = n / Math.max(1, objects[c] ?? 0) / minutes;
        return {
          controller: c,
          objects: objects[c] ?? 0,
          reconciles: n,
          perObjectPerMin: Math.round(perObjectPerMin * 100) / 100,
        };
      });
      const writes = {
        statusWrites: after.statusWrites - before.statusWrites,
        objectWrites: after.objectWrites - before.objectWrites,
        eventWrites: after.eventWrites - before.eventWrites,
      };
      console.log(`[hot-loop] settle ${String(SETTLE_MS)} ms, window ${String(MEASURE_MS)} ms`);
      console.table(figures);
      console.log(`[hot-loop] API writes in the window: ${JSON.stringify(writes)}`);

      for (const f of figures)
        expect(f.perObjectPerMin, `${f.controller} reconciles/min/object`).toBeLessThanOrEqual(
          MAX_RECONCILES_PER_MIN_PER_OBJECT,
        );
      expect(writes.statusWrites, "status writes while nothing changed").toBe(0);
      expect(writes.objectWrites, "object writes (finalizers, annotations, jobs) while nothing changed").toBe(0);
      expect(statusAfter, "status unchanged over the window (no moving lastError.time or message)").toEqual(
        statusBefore,
      );

      // Deleting the refused copy leaves the other owner's association alone.
      await kubectlAsyncOk(["delete", "physicalcopy", "second-on-target", "-n", ns, "--timeout=60s"]);
      expect(await engine.observeCopy("shared-tgt")).toMatchObject({
        owner: { name: "first-on-target" },
        synchronization: { syncState: "Frozen" },
      });
    },
    60_000 + SETTLE_MS + MEASURE_MS + 60_000,
  );
});
