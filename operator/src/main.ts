// Composition root: config → logger → kube clients → informers → engines → controllers → leader election →
// signals. Nothing here decides anything; it wires the pieces and owns their lifetimes.
//
// Lifecycle: caches start at once (a standby stays warm and ready to take over); controllers run only while this
// replica holds the Lease. SIGTERM/SIGINT stop taking work, let in-flight reconciles finish, release the Lease,
// stop the caches, close the engines, and exit 0. A lost Lease exits 1 so the replica restarts clean.
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiVersion, group, version } from "./api/common.ts";
import { loadConfig, usage, type Config } from "./config.ts";
import type { Caches, ControllerContext, EngineProvider } from "./controllers/shared/context.ts";
import type { CopyClassObject, CopyJobObject, PhysicalCopyObject, VirtualCopyObject } from "./controllers/shared/objects.ts";
import { VolumeResolver } from "./controllers/shared/sources.ts";
import { copyClassReconciler } from "./controllers/copyclass/reconciler.ts";
import { copyJobReconciler } from "./controllers/copyjob/reconciler.ts";
import { physicalCopyReconciler } from "./controllers/physicalcopy/reconciler.ts";
import { virtualCopyReconciler } from "./controllers/virtualcopy/reconciler.ts";
import { EngineRegistry } from "./engine/registry.ts";
import { makeClients, type Clients } from "./kube/client.ts";
import { realClock } from "./kube/clock.ts";
import { Controller } from "./kube/controller.ts";
import { summarise } from "./kube/errors.ts";
import { EventRecorder, eventsApiSink } from "./kube/events.ts";
import { StringInterner, compactObject, type CompactOptions } from "./kube/compact.ts";
import { customObjectPatcher } from "./kube/finalizers.ts";
import { Informer, clientNodeWatch, decodeUntyped, rawList, type KubeObject, type RawList } from "./kube/informer.ts";
import { LeaderElector, leaseStore } from "./kube/leader.ts";
import { RequestThrottle } from "./kube/ratelimit.ts";
import { StatusWriter, customObjectStatusApplier, isStatusApply } from "./kube/status.ts";
import type { Engine } from "./engine/port.ts";
import { instrumented } from "./observability/instrumented-engine.ts";
import { rootLogger } from "./observability/logger.ts";
import { Metrics } from "./observability/metrics.ts";
import { startServer } from "./observability/server.ts";

const plurals = { CopyClass: "copyclasses", VirtualCopy: "virtualcopies", PhysicalCopy: "physicalcopies", CopyJob: "copyjobs" } as const;

/** Our status writers' field managers all start so; the caches keep only their managedFields entries. */
const managerPrefix = "arraycopy-";
const cacheCompaction: CompactOptions = {
  interner: new StringInterner(),
  keepManagedFields: (e) => isStatusApply(e) && (e.manager?.startsWith(managerPrefix) ?? false),
};
/** Items per list page: as client-go's reflector, so a cold start with many objects never holds one huge response. */
const listPageSize = 500;

/** Lists a whole collection page by page (limit/continue), with the resourceVersion of the consistent snapshot. */
async function listAll(clients: Clients, plural: string): Promise<RawList> {
  const items: unknown[] = [];
  let cont: string | undefined;
  for (;;) {
    const page = rawPage(await clients.customObjects.listClusterCustomObject({ group, version, plural, limit: listPageSize, ...(cont === undefined ? {} : { _continue: cont }) }));
    items.push(...page.list.items);
    if (page.continue === undefined) return { items, metadata: page.list.metadata };
    cont = page.continue;
  }
}

function rawPage(v: unknown): { readonly list: RawList; readonly continue: string | undefined } {
  const list = rawList(v);
  const meta = (v as { metadata?: { continue?: unknown } }).metadata;
  return { list, continue: typeof meta?.continue === "string" && meta.continue !== "" ? meta.continue : undefined };
}

function informer<T extends KubeObject>(kc: KubeConfig, clients: Clients, plural: string, log: Logger): Informer<T> {
  return new Informer<T>({
    name: plural,
    path: `/apis/${group}/${version}/${plural}`,
    list: () => listAll(clients, plural),
    watch: clientNodeWatch(kc),
    clock: realClock,
    decode: (raw) => decodeUntyped(compactObject(raw, cacheCompaction)) as T | undefined,
    onError: (message, e) => {
      log.warn({ informer: plural, err: summarise(e) }, message);
    },
  });
}

/** Exits with a hint when the CRDs are not installed (the chart or `kubectl apply -f crds/` installs them). */
async function checkCrds(clients: Clients, log: Logger): Promise<void> {
  for (const plural of Object.values(plurals)) {
    try {
      await clients.customObjects.listClusterCustomObject({ group, version, plural, limit: 1 });
    } catch (e: unknown) {
      log.fatal({ err: summarise(e) }, `Cannot list ${plural}.${group}: install the CRDs first (helm install, or kubectl apply -f crds/)`);
      process.exit(1);
    }
  }
}

function countStates(caches: Caches) {
  return {
    copies: () => {
      const m = new Map<string, number>();
      for (const [kind, list] of [["VirtualCopy", caches.virtualCopies.list()], ["PhysicalCopy", caches.physicalCopies.list()]] as const) {
        for (const c of list) {
          const k = `${kind}/${c.status?.syncState ?? "None"}`;
          m.set(k, (m.get(k) ?? 0) + 1);
        }
      }
      return m;
    },
    jobs: () => {
      const m = new Map<string, number>();
      for (const j of caches.jobs.list()) m.set(j.status?.jobState ?? "None", (m.get(j.status?.jobState ?? "None") ?? 0) + 1);
      return m;
    },
  };
}

export interface RunOptions {
  /** Tests pass their own engines so they can drive them too (volumes, verification, injected faults). */
  readonly engines?: EngineProvider;
  /** Called once the health server listens. */
  readonly onListening?: (port: number) => void;
}

export async function run(config: Config, log: Logger, stop: AbortSignal, opts: RunOptions = {}): Promise<number> {
  const kc = new KubeConfig();
  if (config.kubeconfig === undefined) kc.loadFromDefault();
  else kc.loadFromFile(config.kubeconfig);
  const clock = realClock;
  // No client-side limit unless asked (--qps): SIG API Machinery recommends relying on the API server's Priority
  // and Fairness, and controller-runtime disabled its client-side limiter by default (its PR #3119).
  const throttle = config.qps > 0 ? new RequestThrottle(clock, { qps: config.qps, burst: config.burst }) : undefined;
  const clients = makeClients(kc, { throttle, userAgent: "arraycopy-operator/0.1.0" });
  await checkCrds(clients, log);

  const caches: Caches = {
    classes: informer<CopyClassObject>(kc, clients, plurals.CopyClass, log),
    virtualCopies: informer<VirtualCopyObject>(kc, clients, plurals.VirtualCopy, log),
    physicalCopies: informer<PhysicalCopyObject>(kc, clients, plurals.PhysicalCopy, log),
    jobs: informer<CopyJobObject>(kc, clients, plurals.CopyJob, log),
  };
  const all = Object.values(caches) as Informer<KubeObject>[];
  for (const i of all) i.start();

  const metrics = new Metrics(countStates(caches));
  const registry = new EngineRegistry({
    dataDir: config.dataDir,
    // Credentials are read when an engine is built and never logged; the Secret is named by the CopyClass.
    readSecret: async (namespace, name) => {
      const secret = await clients.core.readNamespacedSecret({ namespace, name });
      return Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]));
    },
    wsapiLogger: (level, message, fields) => {
      log.child({ driver: "wsapi" })[level](fields ?? {}, message);
    },
    onWsapiMalformed: (kind) => {
      metrics.recordSkipped("wsapi", kind);
    },
  });
  const timedEngines = new WeakMap<object, Engine>();
  const base = opts.engines ?? registry;
  const engines: EngineProvider = {
    engineFor: async (cls) => {
      const engine = await base.engineFor(cls);
      const seen = timedEngines.get(engine);
      if (seen !== undefined) return seen;
      const timed = instrumented(engine, (operation, outcome, ms) => { metrics.engineCall(cls.spec.driver, operation, outcome, ms); });
      timedEngines.set(engine, timed);
      return timed;
    },
  };
  const events = new EventRecorder({
    sink: eventsApiSink(clients.events),
    clock,
    reporter: { controller: "arraycopy.io/operator", instance: config.identity },
    onError: (e, input) => {
      log.warn({ err: summarise(e), reason: input.reason }, "Could not record event");
    },
  });
  const ctx: ControllerContext = { caches, engines, volumes: new VolumeResolver(clients.core), events, clock, log };

  const target = (kind: keyof typeof plurals) => ({ apiVersion, kind, group, version, plural: plurals[kind] });
  const writer = (kind: keyof typeof plurals, manager: string) =>
    new StatusWriter({ target: target(kind), fieldManager: manager, apply: customObjectStatusApplier(clients.customObjects, target(kind), manager), clock });
  const patcher = (plural: string) => (obj: { metadata: { namespace?: string; name: string } }, ops: Parameters<ReturnType<typeof customObjectPatcher>>[0]) =>
    customObjectPatcher(clients.customObjects, { group, version, plural, namespace: obj.metadata.namespace ?? "", name: obj.metadata.name })(ops);
  // Secondary watches: a job's change wakes the copy it acts on; a copy's change wakes the jobs that reference it.
  const copyOfJob = (kind: "VirtualCopy" | "PhysicalCopy") => (key: string) => {
    const job = caches.jobs.get(key);
    return job?.spec.copyRef.kind === kind ? [`${job.metadata.namespace ?? ""}/${job.spec.copyRef.name}`] : [];
  };
  const jobsOfCopy = (kind: "VirtualCopy" | "PhysicalCopy") => (key: string) => {
    const [ns = "", name = ""] = key.split("/");
    return caches.jobs.list(ns).filter((j) => j.spec.copyRef.kind === kind && j.spec.copyRef.name === name).map((j) => `${ns}/${j.metadata.name}`);
  };
  const controller = (name: string, watches: ConstructorParameters<typeof Controller>[0]["watches"], reconcile: ConstructorParameters<typeof Controller>[0]["reconcile"]) =>
    new Controller({
      name,
      watches,
      reconcile,
      clock,
      workers: config.workers,
      observer: metrics.controllerObserver(),
      queueObserver: metrics.queueObserver(name),
      onError: (key, e, terminal) => {
        log.info({ controller: name, key, err: e instanceof Error ? e.message : String(e), terminal }, "Reconcile did not finish; retrying with backoff");
      },
    });
  const controllers = [
    controller(
      "copyclass",
      [{ source: caches.classes }],
      copyClassReconciler({
        ctx: { ...ctx, log: log.child({ controller: "copyclass" }) },
        status: writer("CopyClass", "arraycopy-copyclass"),
        retain: (names) => registry.retain(names),
      }),
    ),
    controller(
      "virtualcopy",
      [{ source: caches.virtualCopies }, { source: caches.classes, map: () => caches.virtualCopies.keys() }, { source: caches.jobs, map: copyOfJob("VirtualCopy") }],
      virtualCopyReconciler({ ctx: { ...ctx, log: log.child({ controller: "virtualcopy" }) }, status: writer("VirtualCopy", "arraycopy-virtualcopy"), patch: patcher(plurals.VirtualCopy) }),
    ),
    controller(
      "physicalcopy",
      [{ source: caches.physicalCopies }, { source: caches.classes, map: () => caches.physicalCopies.keys() }, { source: caches.jobs, map: copyOfJob("PhysicalCopy") }],
      physicalCopyReconciler({
        ctx: { ...ctx, log: log.child({ controller: "physicalcopy" }) },
        status: writer("PhysicalCopy", "arraycopy-physicalcopy"),
        patch: patcher(plurals.PhysicalCopy),
        createJob: async (namespace, body) => {
          await clients.customObjects.createNamespacedCustomObject({ group, version, namespace, plural: plurals.CopyJob, body });
        },
      }),
    ),
    controller(
      "copyjob",
      [{ source: caches.jobs }, { source: caches.virtualCopies, map: jobsOfCopy("VirtualCopy") }, { source: caches.physicalCopies, map: jobsOfCopy("PhysicalCopy") }],
      copyJobReconciler({
        ctx: { ...ctx, log: log.child({ controller: "copyjob" }) },
        status: writer("CopyJob", "arraycopy-copyjob"),
        deleteJob: async (job) => {
          await clients.customObjects.deleteNamespacedCustomObject({ group, version, namespace: job.metadata.namespace ?? "", plural: plurals.CopyJob, name: job.metadata.name });
        },
      }),
    ),
  ];

  let leading = false;
  const { server, port } = await startServer(config.metricsPort, metrics.registry, {
    ready: () => all.every((i) => i.hasSynced()),
    leading: () => leading,
  });
  log.info({ port }, "Serving /metrics, /healthz and /readyz");
  opts.onListening?.(port);

  const runControllers = async (signal: AbortSignal) => {
    leading = true;
    metrics.setLeader(true);
    log.info("Started leading: running controllers");
    await Promise.all(controllers.map((c) => c.run(signal)));
  };
  let exitCode = 0;
  if (config.leaderElect) {
    const lost = new AbortController();
    const elector = new LeaderElector({
      identity: config.identity,
      store: leaseStore(clients.coordination, config.leaseNamespace, config.leaseName),
      clock,
      onStartedLeading: (signal) => runControllers(signal),
      onStoppedLeading: () => {
        leading = false;
        metrics.setLeader(false);
        if (!stop.aborted) {
          log.error("Lost the leader Lease: exiting so this replica restarts clean");
          exitCode = 1;
          lost.abort();
        }
      },
      onNewLeader: (identity) => {
        log.info({ leader: identity }, "New leader");
      },
      onError: (e) => {
        log.warn({ err: summarise(e) }, "Leader election request failed");
      },
    });
    await elector.run(AbortSignal.any([stop, lost.signal]));
  } else {
    await runControllers(stop);
  }
  log.info("Controllers stopped; releasing resources");
  await Promise.all(all.map((i) => i.stop()));
  await registry.close();
  await new Promise<void>((resolve) => server.close(() => { resolve(); }));
  return exitCode;
}

async function main(): Promise<void> {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    process.stdout.write(usage());
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e: unknown) {
    console.error(e instanceof Error ? e.message : String(e));
    process.exit(2);
  }
  const log = rootLogger(config.logLevel);
  const stop = new AbortController();
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    process.once(sig, () => {
      log.info({ signal: sig }, "Shutting down: finishing in-flight reconciles");
      stop.abort();
    });
  }
  process.exitCode = await run(config, log, stop.signal);
  log.info({ exitCode: process.exitCode }, "Stopped");
}

if (import.meta.main) await main();
