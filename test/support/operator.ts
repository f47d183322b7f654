// Runs the operator in this process against the test cluster, with an engine registry the test shares, so a
// test can put data into the embedded engine's volumes and verify copies byte for byte. Also: objects by kubectl,
// conditions, and events for assertions on what the cluster ends up holding.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { DestinationStream } from "pino";
import { stringify } from "yaml";
import { run } from "../../operator/src/main.ts";
import { loadConfig } from "../../operator/src/config.ts";
import { EngineRegistry } from "../../operator/src/engine/registry.ts";
import type { Engine, VolumeOps } from "../../operator/src/engine/port.ts";
import { rootLogger } from "../../operator/src/observability/logger.ts";
import type { Clock } from "../../operator/src/kube/clock.ts";
import { expect } from "vitest";
import { cluster, eventually, kubectl, kubectlOk } from "./cluster.ts";

export interface RunningOperator {
  readonly registry: EngineRegistry;
  readonly dataDir: string;
  /** The port of /metrics, /healthz and /readyz, once listening. */
  readonly metricsPort: Promise<number>;
  /** The embedded engine of an embedded class, as the operator uses it. */
  engine(className: string): Promise<Engine & { volumes: VolumeOps }>;
  /**
   * Stops the operator; keepEngines leaves the engines open for a restarted operator (a process restart on a real
   * array).
   */
  stop(keepEngines?: boolean): Promise<number>;
}

export interface StartOptions {
  /** Shares engines with an earlier operator (a restart), instead of a new data directory. */
  readonly registry?: EngineRegistry;
  /** Wraps each engine the operator uses (fault injection). */
  readonly wrap?: (engine: Engine, className: string) => Engine;
  /** Where the operator's log lines go (default stdout), so a test can read everything it logged. */
  readonly logDestination?: DestinationStream;
  /** Overrides the log level (default ARRAYCOPY_TEST_LOG, else warn). */
  readonly logLevel?: string;
  /** The engines of deleted classes are closed, as the operator's own registry does (default: kept open). */
  readonly closeDeletedClasses?: boolean;
  /** The CopySchedule controller's clock: a test moves it on to a run's time instead of waiting for it. */
  readonly scheduleClock?: Clock;
}

/** The data directory of each registry startOperator made: removed when the registry is closed. */
const registryDirs = new WeakMap<EngineRegistry, string>();

function ownRegistry(dataDir: string): EngineRegistry {
  const registry = new EngineRegistry({
    dataDir,
    readSecret: (namespace, name) => Promise.resolve(readSecret(namespace, name)),
  });
  registryDirs.set(registry, dataDir);
  return registry;
}

export function startOperator(extraArgs: readonly string[] = [], opts: StartOptions = {}): RunningOperator {
  const dataDir = mkdtempSync(join(tmpdir(), "arraycopy-data-"));
  const registry = opts.registry ?? ownRegistry(dataDir);
  const ownDir = opts.registry === undefined;
  const wrapped = new Map<Engine, Engine>();
  const engines = {
    engineFor: async (cls: Parameters<EngineRegistry["engineFor"]>[0]) => {
      const engine = await registry.engineFor(cls);
      if (opts.wrap === undefined) return engine;
      const w = wrapped.get(engine) ?? opts.wrap(engine, cls.name);
      wrapped.set(engine, w);
      return w;
    },
  };
  const config = loadConfig(
    [
      "--kubeconfig",
      cluster().kubeconfig,
      "--data-dir",
      dataDir,
      "--metrics-port",
      "0",
      "--leader-elect",
      "false",
      "--workers",
      "4",
      "--log-level",
      opts.logLevel ?? process.env.ARRAYCOPY_TEST_LOG ?? "warn",
      ...extraArgs,
    ],
    {},
  );
  const stop = new AbortController();
  let listening: (port: number) => void = () => undefined;
  const metricsPort = new Promise<number>((resolve) => {
    listening = resolve;
  });
  const exited = run(config, rootLogger(config.logLevel, opts.logDestination), stop.signal, {
    engines,
    ...(opts.closeDeletedClasses === true ? { retainEngines: (names) => registry.retain(names) } : {}),
    onListening: listening,
    ...(opts.scheduleClock === undefined ? {} : { scheduleClock: opts.scheduleClock }),
  });
  return {
    registry,
    dataDir,
    metricsPort,
    async engine(className) {
      const engine = await registry.engineFor({
        name: className,
        generation: classGeneration(className),
        spec: { driver: "embedded", embedded: { maxConcurrentCopies: 2 } },
      });
      if (engine.volumes === undefined) throw new Error("embedded engine without volumes");
      return engine as Engine & { volumes: VolumeOps };
    },
    // The engines' volumes live in their registry's directory: it goes with the registry (kept for the next
    // operator when keepEngines); a directory of this operator's that holds no registry goes at once.
    async stop(keepEngines = false) {
      stop.abort();
      const code = await exited;
      if (!keepEngines) {
        await registry.close();
        const dir = registryDirs.get(registry);
        if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
      }
      if (!ownDir) rmSync(dataDir, { recursive: true, force: true });
      return code;
    },
  };
}

/** A Secret's data, decoded, as the operator's own reader returns it (for wsapi classes). */
export function readSecret(namespace: string, name: string): Record<string, string> {
  const secret = JSON.parse(kubectlOk(["get", "secret", name, "-n", namespace, "-o", "json"])) as {
    data?: Record<string, string>;
  };
  return Object.fromEntries(
    Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
  );
}

function classGeneration(name: string): number {
  return Number(kubectlOk(["get", "copyclass", name, "-o", "jsonpath={.metadata.generation}"]));
}

export function applyYaml(...objects: readonly unknown[]): void {
  kubectlOk(["apply", "-f", "-"], { input: objects.map((o) => stringify(o)).join("---\n") });
}

export function embeddedClass(name: string, isDefault = false): Record<string, unknown> {
  return {
    apiVersion: "arraycopy.io/v1alpha1",
    kind: "CopyClass",
    metadata: { name, ...(isDefault ? { annotations: { "arraycopy.io/is-default-class": "true" } } : {}) },
    spec: { driver: "embedded", embedded: { maxConcurrentCopies: 2 } },
  };
}

/**
 * A wsapi CopyClass against a test array (or any WSAPI endpoint) and the Secret of its credentials, in `namespace`;
 * `password` overrides the array's (a class the array refuses).
 */
export function wsapiClass(
  name: string,
  array: { readonly url: string; readonly ca: string; readonly user: string; readonly password: string },
  namespace: string,
  password = array.password,
): Record<string, unknown>[] {
  const secret = `${name}-creds`;
  return [
    {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: secret, namespace },
      stringData: { username: array.user, password },
    },
    {
      apiVersion: "arraycopy.io/v1alpha1",
      kind: "CopyClass",
      metadata: { name },
      spec: {
        driver: "wsapi",
        wsapi: {
          endpoint: array.url,
          credentialsSecretRef: { name: secret, namespace },
          cpg: "FC_r6",
          caBundle: array.ca,
        },
      },
    },
  ];
}

/**
 * Waits for the populator's Warning `reason` on a PVC, checks its note names the problem and that the PVC was not
 * taken up (no populate-target finalizer); returns the PVC's UID.
 */
export async function refusedClaim(namespace: string, name: string, reason: string, message: string): Promise<string> {
  const ev = await eventually(() => {
    const found = eventsFor(namespace, name).find((e) => e.reason === reason);
    expect(found).toBeDefined();
    return found;
  });
  expect(ev?.type).toBe("Warning");
  expect(ev?.note).toContain(message);
  const c = getObject<KubeObj>("pvc", namespace, name);
  expect(c?.metadata.finalizers ?? []).not.toContain("arraycopy.io/populate-target");
  return c?.metadata.uid ?? "";
}

/** The parts of an object the populator's tests read. */
export interface KubeObj {
  metadata: {
    uid: string;
    name: string;
    deletionTimestamp?: string;
    finalizers?: string[];
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
}

// eslint-disable-next-line @typescript-eslint/no-unnecessary-type-parameters -- the caller names the shape it reads
export function getObject<T = Record<string, unknown>>(
  kind: string,
  ns: string | undefined,
  name: string,
): T | undefined {
  const res = kubectl(["get", kind, name, ...(ns === undefined ? [] : ["-n", ns]), "-o", "json"]);
  if (res.code !== 0) {
    if (res.stderr.includes("NotFound")) return undefined;
    throw new Error(res.stderr);
  }
  return JSON.parse(res.stdout) as T;
}

export interface ConditionView {
  readonly type: string;
  readonly status: string;
  readonly reason: string;
  readonly message: string;
  readonly observedGeneration?: number;
}

export interface WaitOptions {
  /** The condition's status to wait for; default True. */
  readonly status?: "True" | "False" | "Unknown";
  readonly timeoutMs?: number;
  readonly intervalMs?: number;
}

/**
 * Polls `kubectl get` until the object's condition `type` has `status`, and returns the object: the one way the
 * tests wait for the state of the cluster.
 */
export function waitForCondition<T extends { status?: { conditions?: readonly ConditionView[] } }>(
  kind: string,
  namespace: string | undefined,
  name: string,
  type: string,
  opts: WaitOptions = {},
): Promise<T> {
  return eventually(
    () => {
      const obj = getObject<T>(kind, namespace, name);
      expect(conditionOf(obj, type), `${kind}/${name} ${type}`).toMatchObject({ status: opts.status ?? "True" });
      return obj as T;
    },
    opts.timeoutMs ?? 60_000,
    opts.intervalMs ?? 200,
  );
}

export function conditionOf(
  obj: { status?: { conditions?: readonly ConditionView[] } } | undefined,
  type: string,
): ConditionView | undefined {
  return obj?.status?.conditions?.find((c) => c.type === type);
}

export interface EventView {
  readonly reason: string;
  readonly type: string;
  readonly note: string;
  readonly regarding: { readonly name: string; readonly kind: string };
}

export function eventsFor(ns: string, name: string): EventView[] {
  const out = kubectlOk(["get", "events.events.k8s.io", "-n", ns, "-o", "json"]);
  return (JSON.parse(out) as { items: EventView[] }).items.filter((e) => e.regarding.name === name);
}

/** A claim bound to a CSI PersistentVolume whose volumeHandle names an array volume (no provisioner needed). */
export function claimOf(ns: string, claim: string, volume: string, driver = "csi.hpe.com"): readonly unknown[] {
  const pv = `pv-${ns}-${claim}`;
  return [
    {
      apiVersion: "v1",
      kind: "PersistentVolume",
      metadata: { name: pv },
      spec: {
        capacity: { storage: "1Mi" },
        accessModes: ["ReadWriteOnce"],
        storageClassName: "",
        claimRef: { namespace: ns, name: claim },
        csi: { driver, volumeHandle: volume },
      },
    },
    {
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: claim, namespace: ns },
      spec: {
        accessModes: ["ReadWriteOnce"],
        storageClassName: "",
        volumeName: pv,
        resources: { requests: { storage: "1Mi" } },
      },
    },
  ];
}
