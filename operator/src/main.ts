// Composition root: config → logger → kube clients → informers → engines → controllers → leader election →
// signals. Nothing here decides anything; it wires the pieces and owns their lifetimes.
//
// Lifecycle: caches start at once (a standby stays warm and ready to take over); controllers run only while this
// replica holds the Lease. SIGTERM/SIGINT stop taking work, let in-flight reconciles finish, release the Lease,
// stop the caches, close the engines, and exit 0. A lost Lease exits 1 so the replica restarts clean.
import { relative } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { group, version } from "./api/common.ts";
import { loadConfig, usage, type Config } from "./config.ts";
import { copyClassSetup } from "./controllers/copyclass/setup.ts";
import { copyJobSetup } from "./controllers/copyjob/setup.ts";
import { copyScheduleSetup } from "./controllers/copyschedule/setup.ts";
import { physicalCopySetup } from "./controllers/physicalcopy/setup.ts";
import type { Caches, ControllerContext, EngineProvider } from "./controllers/shared/context.ts";
import { EngineIndications } from "./controllers/shared/indications.ts";
import type {
  CopyClassObject,
  CopyJobObject,
  CopyScheduleObject,
  PhysicalCopyObject,
  VirtualCopyGroupObject,
  VirtualCopyObject,
} from "./controllers/shared/objects.ts";
import { plurals, type ControllerSetup, type SetupDeps } from "./controllers/shared/setup.ts";
import { VolumeResolver } from "./controllers/shared/sources.ts";
import { virtualCopySetup } from "./controllers/virtualcopy/setup.ts";
import { virtualCopyGroupSetup } from "./controllers/virtualcopygroup/setup.ts";
import { messageOf } from "./engine/errors.ts";
import { EngineRegistry } from "./engine/registry.ts";
import { IndicationListener } from "./engine/cim/listener.ts";
import { certFingerprint, selfSignedCert } from "./kube/self-signed.ts";
import { readFileSync } from "node:fs";
import { isIP } from "node:net";
import { makeClients, type Clients } from "./kube/client.ts";
import { realClock, type Clock } from "./kube/clock.ts";
import { Controller } from "./kube/controller.ts";
import { summarise } from "./kube/errors.ts";
import { EventRecorder, eventsApiSink, restEventSink } from "./kube/events.ts";
import { StringInterner, compactObject, type CompactOptions } from "./kube/compact.ts";
import { Informer, clientNodeWatch, decodeUntyped, pagedList, type KubeObject } from "./kube/informer.ts";
import { LeaderElector, leaseStore } from "./kube/leader.ts";
import { LeaderPodLabel, leaderLabel } from "./kube/leader-label.ts";
import { RequestThrottle } from "./kube/ratelimit.ts";
import { isStatusApply } from "./kube/status.ts";
import { instrumentedProvider } from "./observability/instrumented-engine.ts";
import { rootLogger } from "./observability/logger.ts";
import { Metrics } from "./observability/metrics.ts";
import { startServer } from "./observability/server.ts";
import { countStates } from "./observability/states.ts";
import { populateCommand } from "./populator/command.ts";
import { PopulationGrants, startPopulationServer } from "./populator/source.ts";
import { populatorSetup } from "./controllers/populator/setup.ts";
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";

/** Our status writers' field managers all start so; the caches keep only their managedFields entries. */
const managerPrefix = "arraycopy-";
const populatorSelector = "arraycopy.io/populator=true";

/** A URL's host as a certificate names it: an IPv6 address without its brackets. */
const hostOf = (url: string): string => new URL(url).hostname.replace(/^\[|\]$/g, "");
const cacheCompaction: CompactOptions = {
  interner: new StringInterner(),
  keepManagedFields: (e) => isStatusApply(e) && (e.manager?.startsWith(managerPrefix) ?? false),
};

const setups: readonly ((deps: SetupDeps) => ControllerSetup)[] = [
  copyClassSetup,
  virtualCopySetup,
  virtualCopyGroupSetup,
  physicalCopySetup,
  copyJobSetup,
  copyScheduleSetup,
];

function informer<T extends KubeObject>(kc: KubeConfig, clients: Clients, plural: string, log: Logger): Informer<T> {
  return new Informer<T>({
    name: plural,
    path: `/apis/${group}/${version}/${plural}`,
    list: () =>
      pagedList((limit, cont) =>
        clients.customObjects.listClusterCustomObject({
          group,
          version,
          plural,
          limit,
          ...(cont === undefined ? {} : { _continue: cont }),
        }),
      ),
    watch: clientNodeWatch(kc),
    clock: realClock,
    decode: (raw) => decodeUntyped(compactObject(raw, cacheCompaction)) as T | undefined,
    onError: (message, e) => {
      log.warn({ informer: plural, err: summarise(e) }, message);
    },
  });
}

/** An informer of a core kind (PVCs in all namespaces, the populator's pods in its namespace). */
function coreInformer<T extends KubeObject>(
  kc: KubeConfig,
  name: string,
  path: string,
  list: (limit: number, cont: string | undefined) => Promise<unknown>,
  log: Logger,
  labelSelector?: string,
): Informer<T> {
  return new Informer<T>({
    name,
    path,
    list: () => pagedList(list),
    watch: clientNodeWatch(kc),
    clock: realClock,
    ...(labelSelector === undefined ? {} : { labelSelector }),
    decode: (raw) => decodeUntyped(compactObject(raw, cacheCompaction)) as T | undefined,
    onError: (message, e) => {
      log.warn({ informer: name, err: summarise(e) }, message);
    },
  });
}

/** Exits with a hint when the CRDs are not installed (the chart or `kubectl apply -f crds/` installs them). */
async function checkCrds(clients: Clients, log: Logger): Promise<void> {
  for (const plural of Object.values(plurals)) {
    try {
      await clients.customObjects.listClusterCustomObject({ group, version, plural, limit: 1 });
    } catch (e: unknown) {
      log.fatal(
        { err: summarise(e) },
        `Cannot list ${plural}.${group}: install the CRDs first (helm install, or kubectl apply -f crds/)`,
      );
      process.exit(1);
    }
  }
}

export interface RunOptions {
  /** Tests pass their own engines so they can drive them too (volumes, verification, injected faults). */
  readonly engines?: EngineProvider;
  /** With engines: closes the engines of classes that no longer exist (else this process's own registry's). */
  readonly retainEngines?: (classNames: ReadonlySet<string>) => Promise<void>;
  /** The CopySchedule controller's clock (tests move it on to a run's time instead of waiting for it). */
  readonly scheduleClock?: Clock;
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
    groups: informer<VirtualCopyGroupObject>(kc, clients, plurals.VirtualCopyGroup, log),
    physicalCopies: informer<PhysicalCopyObject>(kc, clients, plurals.PhysicalCopy, log),
    jobs: informer<CopyJobObject>(kc, clients, plurals.CopyJob, log),
    schedules: informer<CopyScheduleObject>(kc, clients, plurals.CopySchedule, log),
  };
  const popNs = config.populatorNamespace ?? config.leaseNamespace;
  const claims = coreInformer<V1PersistentVolumeClaim>(
    kc,
    "persistentvolumeclaims",
    "/api/v1/persistentvolumeclaims",
    (limit, cont) =>
      clients.core.listPersistentVolumeClaimForAllNamespaces({
        limit,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    log,
  );
  const populatorPods = coreInformer<V1Pod>(
    kc,
    "populator-pods",
    `/api/v1/namespaces/${popNs}/pods`,
    (limit, cont) =>
      clients.core.listNamespacedPod({
        namespace: popNs,
        labelSelector: populatorSelector,
        limit,
        ...(cont === undefined ? {} : { _continue: cont }),
      }),
    log,
    populatorSelector,
  );
  const all = [...(Object.values(caches) as Informer<KubeObject>[]), claims, populatorPods];
  for (const i of all) i.start();

  const metrics = new Metrics(
    countStates({
      copies: () => [
        ...caches.virtualCopies.list().map((c) => ({ kind: "VirtualCopy", syncState: c.status?.syncState })),
        ...caches.physicalCopies.list().map((c) => ({ kind: "PhysicalCopy", syncState: c.status?.syncState })),
        // A group counts each member's copy.
        ...caches.groups
          .list()
          .flatMap((g) => (g.status?.members ?? []).map((m) => ({ kind: "VirtualCopyGroup", syncState: m.syncState }))),
      ],
      jobs: () => caches.jobs.list().map((j) => j.status?.jobState),
    }),
  );
  const cimListener = await startCimListener(config, log);
  const registry = new EngineRegistry({
    dataDir: config.dataDir,
    ...(cimListener === undefined || config.cimListenerUrl === undefined
      ? {}
      : { cimIndications: { listener: cimListener, listenerUrl: config.cimListenerUrl } }),
    // Credentials are read when an engine is built and never logged; the Secret is named by the CopyClass.
    readSecret: async (namespace, name) => {
      const secret = await clients.core.readNamespacedSecret({ namespace, name });
      return Object.fromEntries(
        Object.entries(secret.data ?? {}).map(([k, v]) => [k, Buffer.from(v, "base64").toString("utf8")]),
      );
    },
    wsapiLogger: (level, message, fields) => {
      log.child({ driver: "wsapi" })[level](fields ?? {}, message);
    },
    onWsapiMalformed: (kind) => {
      metrics.recordSkipped("wsapi", kind);
    },
  });
  const indications = new EngineIndications();
  const engines: EngineProvider = instrumentedProvider(
    opts.engines ?? registry,
    (driver, operation, outcome, ms) => {
      metrics.engineCall(driver, operation, outcome, ms);
    },
    (engine) => {
      indications.follow(engine);
    },
  );
  const events = new EventRecorder({
    sink: clients.rest === undefined ? eventsApiSink(clients.events) : restEventSink(clients.rest),
    clock,
    reporter: { controller: "arraycopy.io/operator", instance: config.identity },
    onError: (e, input) => {
      log.warn({ err: summarise(e), reason: input.reason }, "Could not record event");
    },
  });
  const volumes = new VolumeResolver(clients.core, clients.customObjects);
  const ctx: ControllerContext = { caches, engines, volumes, events, clock, log };
  const deps: SetupDeps = {
    ctx,
    clients,
    clock,
    scheduleClock: opts.scheduleClock ?? clock,
    indications,
    retainEngines: (names) => (opts.retainEngines === undefined ? registry.retain(names) : opts.retainEngines(names)),
  };
  const grants = new PopulationGrants();
  // The data path's certificate, new with every process: populator pods pin it, so a pod of an earlier leader (or
  // of this replica before it restarted) trusts no one here and is replaced (controllers/populator/decide.ts).
  const podIp = process.env["POD_IP"] ?? "127.0.0.1";
  const host = config.populatorAddress === undefined ? podIp : hostOf(config.populatorAddress);
  const identity = selfSignedCert([host], 3650);
  const population =
    config.populatorImage === undefined
      ? undefined
      : await startPopulationServer(config.populatorPort, grants, identity);
  const address =
    config.populatorAddress ?? `https://${isIP(podIp) === 6 ? `[${podIp}]` : podIp}:${population?.port ?? 0}`;
  const source = { address, caCert: identity.cert, caFingerprint: certFingerprint(identity.cert) };
  if (population !== undefined)
    log.info(
      { port: population.port, address, certificate: source.caFingerprint },
      "Serving the populator's data path",
    );
  const wiring = {
    claims,
    pods: populatorPods,
    grants,
    settings: { image: config.populatorImage, namespace: popNs, source },
  };
  const controllers = [...setups, (d: SetupDeps) => populatorSetup(d, wiring)].map((setup) => {
    const { name, watches, reconcile, clock: own } = setup(deps);
    return new Controller({
      name,
      watches,
      reconcile,
      clock: own ?? clock,
      workers: config.workers,
      observer: metrics.controllerObserver(),
      queueObserver: metrics.queueObserver(name),
      onError: (key, e, terminal) => {
        log.info(
          { controller: name, key, err: messageOf(e), terminal },
          "Reconcile did not finish; retrying with backoff",
        );
      },
    });
  });

  let leading = false;
  const { server, port } = await startServer(config.metricsPort, metrics.registry, {
    ready: () => all.every((i) => i.hasSynced()),
    leading: () => leading,
  });
  log.info({ port }, "Serving /metrics, /healthz and /readyz");
  opts.onListening?.(port);

  const exitCode = await lead(config, clients, log, stop, {
    run: (signal) => Promise.all(controllers.map((c) => c.run(signal))).then(() => undefined),
    leading: (on) => {
      leading = on;
      metrics.setLeader(on);
    },
  });
  log.info("Controllers stopped; releasing resources");
  await Promise.all(all.map((i) => i.stop()));
  // Engines first: each removes its indication subscription from its array before the listener goes.
  await registry.close();
  await cimListener?.close();
  // Its pooled keep-alive connections would otherwise hold the event loop open.
  await clients.rest?.close();
  for (const s of population === undefined ? [server] : [server, population.server]) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => {
      s.close(() => {
        resolve();
      });
    });
  }
  return exitCode;
}

/** The HTTPS listener for cim job indications, when --cim-listener-port is set; its certificate from files or made. */
async function startCimListener(config: Config, log: Logger): Promise<IndicationListener | undefined> {
  if (config.cimListenerPort === undefined || config.cimListenerUrl === undefined) return undefined;
  const pair =
    config.cimListenerCertFile !== undefined && config.cimListenerKeyFile !== undefined
      ? { cert: readFileSync(config.cimListenerCertFile, "utf8"), key: readFileSync(config.cimListenerKeyFile, "utf8") }
      : selfSignedCert([hostOf(config.cimListenerUrl), "localhost"]);
  const listener = await IndicationListener.start({ port: config.cimListenerPort, ...pair });
  log.info(
    { port: listener.port, url: config.cimListenerUrl, selfSigned: config.cimListenerCertFile === undefined },
    "Listening for cim job indications",
  );
  return listener;
}

/**
 * Runs the controllers while this replica leads (or at once without leader election) until `stop`; resolves the
 * exit code: 0 on a clean stop, 1 when the Lease was lost (the replica restarts clean).
 */
async function lead(
  config: Config,
  clients: Clients,
  log: Logger,
  stop: AbortSignal,
  work: { run: (signal: AbortSignal) => Promise<void>; leading: (on: boolean) => void },
): Promise<number> {
  const label = config.labelLeaderPod
    ? new LeaderPodLabel({
        core: clients.core,
        namespace: config.leaseNamespace,
        pod: config.identity,
        clock: realClock,
        onError: (e, wanted) => {
          log.warn({ err: summarise(e), label: leaderLabel, wanted }, "Could not label this replica's pod; retrying");
        },
      })
    : undefined;
  // Not leading yet: a label an earlier container of this pod left goes.
  void label?.set(false);
  const leading = (on: boolean): void => {
    work.leading(on);
    void label?.set(on);
  };
  try {
    return await elect(config, clients, log, stop, { run: work.run, leading });
  } finally {
    // Off before the process ends, so the Service stops sending to it; bounded, as a shutdown must be.
    if (label !== undefined) await Promise.race([label.set(false), realClock.sleep(3_000)]);
    label?.close();
  }
}

async function elect(
  config: Config,
  clients: Clients,
  log: Logger,
  stop: AbortSignal,
  work: { run: (signal: AbortSignal) => Promise<void>; leading: (on: boolean) => void },
): Promise<number> {
  const runControllers = async (signal: AbortSignal): Promise<void> => {
    work.leading(true);
    log.info("Started leading: running controllers");
    await work.run(signal);
  };
  if (!config.leaderElect) {
    await runControllers(stop);
    return 0;
  }
  let exitCode = 0;
  const lost = new AbortController();
  const elector = new LeaderElector({
    identity: config.identity,
    store: leaseStore(clients.coordination, config.leaseNamespace, config.leaseName),
    clock: realClock,
    onStartedLeading: (signal) => runControllers(signal),
    onStoppedLeading: () => {
      work.leading(false);
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
  return exitCode;
}

async function main(): Promise<void> {
  if (process.argv[2] === "populate") {
    process.exitCode = await populateCommand(process.argv.slice(3));
    return;
  }
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    const script = process.argv[1];
    process.stdout.write(usage(script === undefined ? undefined : relative(process.cwd(), script) || script));
    return;
  }
  let config: Config;
  try {
    config = loadConfig(process.argv.slice(2), process.env);
  } catch (e: unknown) {
    console.error(messageOf(e));
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
