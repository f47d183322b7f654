// The populator's reconciler (the shell around decide.ts): two kinds of key share one queue.
//
//   claim:<namespace>/<name>        a user's PVC whose dataSourceRef names a VirtualCopy or PhysicalCopy
//   copy:<Kind>:<namespace>/<name>  a copy: its status.volumeClaims and its populate-source finalizer
//
// Owns: in the operator's namespace the token Secret, PVC′ and the populator pod of each claim (objects.ts); the
// Filesystem PV of a Filesystem claim; the finalizers arraycopy.io/populate-target (claims) and
// arraycopy.io/populate-source (copies); the claim's annotation arraycopy.io/populated-from; status.volumeClaims of
// copies (field manager arraycopy-populator); the data path's grants (in memory, re-made from the Secret after a
// restart). The Secret also holds this replica's data-path certificate (ca.crt), which the pod pins: a Secret
// written by an earlier leader (or by this replica before it restarted) is rewritten with the current one before a
// pod is started. The array clone's volume on the array and its steps are clone.ts's.
import { randomBytes } from "node:crypto";
import {
  V1PersistentVolume,
  V1PersistentVolumeClaim,
  V1Pod,
  V1Secret,
  type CoreV1Api,
  type StorageV1Api,
} from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiVersion } from "../../api/common.ts";
import { findCondition } from "../../kube/conditions.ts";
import { after, done, type Reconcile, type Result } from "../../kube/controller.ts";
import type { Engine } from "../../engine/port.ts";
import { isAlreadyExists } from "../../kube/errors.ts";
import { fromJson } from "../../kube/models.ts";
import type { ObjectRef } from "../../kube/events.ts";
import {
  addFinalizerPatch,
  hasFinalizer,
  isDeleting,
  removeFinalizerPatch,
  type JsonPatchOp,
} from "../../kube/finalizers.ts";
import type { Informer } from "../../kube/informer.ts";
import type { StatusWriter } from "../../kube/status.ts";
import type { GrantSource, PopulationGrants } from "../../populator/source.ts";
import { connect } from "../shared/connect.ts";
import type { ControllerContext } from "../shared/context.ts";
import { arraySide, type ArraySide } from "../shared/sources.ts";
import type { Meta, PhysicalCopyObject, VirtualCopyObject } from "../shared/objects.ts";
import { annotationOps, deleteIf, findCopy, hold, ignoreNotFound, readOrUndefined, type AnyCopy } from "./calls.ts";
import { abandonClone, cloneFailed, cloneRetryMs, importClone, observeClone, startClone } from "./clone.ts";
import {
  copySourceOf,
  decide,
  retryAtAnnotation,
  retryDelayMs,
  type CopyView,
  type EngineView,
  type Gathered,
  type Plan,
  type Settings,
  type StorageClassView,
} from "./decide.ts";
import { allowedOverrides } from "./strategy.ts";
import {
  arrayVolumeAnnotation,
  attemptsAnnotation,
  caKey,
  claimAnnotation,
  claimFinalizer,
  filesystemPv,
  isOurs,
  podName,
  populatedFromAnnotation,
  populatorPod,
  primeClaim,
  primeName,
  secretName,
  sourceFinalizer,
  tokenKey,
  tokenSecret,
  type ClaimRef,
  type CopyKind,
  type Json,
} from "./objects.ts";

export interface PopulatorDeps {
  readonly ctx: ControllerContext;
  readonly core: CoreV1Api;
  readonly storage: StorageV1Api;
  readonly claims: Informer<V1PersistentVolumeClaim>;
  readonly pods: Informer<V1Pod>;
  readonly settings: Settings;
  readonly grants: PopulationGrants;
  /** Writes status.volumeClaims of a copy, by kind. */
  readonly status: Readonly<Record<CopyKind, StatusWriter>>;
  /** JSON patches of a copy's metadata. */
  readonly patchCopy: (kind: CopyKind, copy: { metadata: Meta }, ops: readonly JsonPatchOp[]) => Promise<void>;
}

export const claimKey = (key: string): string => `claim:${key}`;
export const copyKey = (kind: CopyKind, key: string): string => `copy:${kind}:${key}`;

export function populatorReconciler(deps: PopulatorDeps): Reconcile {
  const log = deps.ctx.log;
  return async (key, signal) => {
    if (key.startsWith("claim:")) return reconcileClaim(deps, key.slice(6), signal, log);
    const m = /^copy:(VirtualCopy|PhysicalCopy):(.*)$/.exec(key);
    if (m?.[1] !== undefined && m[2] !== undefined) return reconcileCopy(deps, m[1] as CopyKind, m[2]);
    return done;
  };
}

// ---- claims ----

async function reconcileClaim(deps: PopulatorDeps, key: string, signal: AbortSignal, log: Logger): Promise<Result> {
  const claim = deps.claims.get(key);
  if (claim?.metadata?.uid === undefined) return done;
  const { g, secret, engine } = await gather(deps, claim, signal);
  const plan = decide(g);
  const l = log.child({ namespace: g.ref.namespace, claim: g.ref.name, plan: plan.kind });
  // A population that runs on after a restart or a change of leader: this process grants its token again.
  if (plan.kind === "wait" && g.pod !== undefined && g.copy !== undefined && secret !== undefined)
    grant(deps, g, g.copy, tokenOf(secret));
  return act(deps, { g, secret, engine }, plan, l);
}

function refOf(claim: V1PersistentVolumeClaim): ClaimRef {
  const m = claim.metadata;
  return { namespace: m?.namespace ?? "", name: m?.name ?? "", uid: m?.uid ?? "" };
}

async function gather(deps: PopulatorDeps, claim: V1PersistentVolumeClaim, signal: AbortSignal): Promise<Gathering> {
  const { settings, core } = deps;
  const ref = refOf(claim);
  const now = deps.ctx.clock.now();
  const source = copySourceOf(claim);
  const ns = settings.namespace;
  const prime = ours(deps.claims.getByName(ns, primeName(ref.uid)), ref);
  const pod = ours(deps.pods.getByName(ns, podName(ref.uid)), ref);
  const secret = ours(
    await readOrUndefined(() => core.readNamespacedSecret({ namespace: ns, name: secretName(ref.uid) })),
    ref,
  );
  const base = { claim, ref, now, settings, source, prime, pod, secret: secret !== undefined };
  const deleting = isDeleting(claim.metadata ?? {});
  // A claim deleted with nothing of ours on it needs nothing more; one we hold is looked at whole (its clone too).
  const held = hasFinalizer(claim.metadata ?? {}, claimFinalizer) || prime !== undefined;
  if (source === undefined || (deleting && !held)) return { g: base, secret, engine: undefined };
  const primePv = await primeVolume(core, prime);
  const fsCandidate = await readOrUndefined(() => core.readPersistentVolume({ name: `pvc-${ref.uid}` }));
  const fsPv = fsCandidate?.metadata?.labels?.["arraycopy.io/claim-uid"] === ref.uid ? fsCandidate : undefined;
  if (source.namespace !== undefined && source.namespace !== ref.namespace)
    return { g: { ...base, primePv, fsPv }, secret, engine: undefined };
  const found = findCopy(deps.ctx, source.kind, ref.namespace, source.name);
  const copy = found === undefined ? undefined : copyView(source.kind, found);
  const linked = found === undefined ? undefined : await engineView(deps.ctx, found, signal);
  const view = linked?.view;
  const engine = linked?.engine;
  const cloning = view?.ok === true && view.csiImport && engine !== undefined;
  const clone = cloning ? await observeClone(engine, ref, signal) : undefined;
  const primeBound = primePv !== undefined && prime?.spec?.volumeName === primePv.metadata?.name;
  const imported =
    cloning && primeBound && linked?.side !== undefined
      ? await deps.ctx.volumes.resolve(ns, { persistentVolumeClaimName: primeName(ref.uid) }, linked.side)
      : undefined;
  const storageClass = deleting ? undefined : await storageClassView(deps, claim);
  return { g: { ...base, primePv, fsPv, copy, engine: view, storageClass, clone, imported }, secret, engine };
}

/** What one reconcile of a claim gathered: the pure view, and the live objects the actions need. */
interface Gathering {
  readonly g: Gathered;
  /** The claim's token Secret (only when its labels say it is the claim's). */
  readonly secret: V1Secret | undefined;
  /** The copy's engine, when its class resolved. */
  readonly engine: Engine | undefined;
}

/**
 * PVC′'s PV: the one PVC′ is bound to, or before that the one its provisioner made for it (named pvc-<PVC′ uid>, as
 * external-provisioner names volumes) while its claimRef says it is PVC′'s.
 */
async function primeVolume(
  core: CoreV1Api,
  prime: V1PersistentVolumeClaim | undefined,
): Promise<V1PersistentVolume | undefined> {
  const uid = prime?.metadata?.uid;
  if (prime === undefined || uid === undefined) return undefined;
  const bound = prime.spec?.volumeName;
  if (bound !== undefined && bound !== "") return readOrUndefined(() => core.readPersistentVolume({ name: bound }));
  const made = await readOrUndefined(() => core.readPersistentVolume({ name: `pvc-${uid}` }));
  return made?.spec?.claimRef?.uid === uid ? made : undefined;
}

function ours<T extends { metadata?: { labels?: Record<string, string> } }>(
  obj: T | undefined,
  ref: ClaimRef,
): T | undefined {
  return isOurs(obj, ref) ? obj : undefined;
}

function copyView(kind: CopyKind, copy: AnyCopy): CopyView {
  const ready = findCondition(copy.status?.conditions, "Ready");
  const volume =
    kind === "VirtualCopy"
      ? (copy as VirtualCopyObject).status?.arrayName
      : (copy as PhysicalCopyObject).status?.targetVolume;
  return {
    kind,
    name: copy.metadata.name,
    uid: copy.metadata.uid,
    ready: ready?.status === "True",
    why: ready === undefined ? "no Ready condition yet" : `${ready.reason}: ${ready.message}`,
    deleting: isDeleting(copy.metadata),
    sizeBytes: copy.status?.sizeBytes,
    volume,
  };
}

async function engineView(
  ctx: ControllerContext,
  copy: AnyCopy,
  signal: AbortSignal,
): Promise<{ view: EngineView; engine: Engine | undefined; side?: ArraySide }> {
  const { link, engine } = await connect(
    ctx,
    { requested: copy.spec.copyClassName, recorded: copy.status?.copyClassName },
    () => Promise.resolve(signal.aborted),
    "copy",
  );
  if (!link.ok) return { view: { ok: false, message: link.blocked.message }, engine: undefined };
  const caps = link.capabilities;
  const view: EngineView = {
    ok: true,
    className: link.cls.name,
    readsVolumes: caps.volumes && engine?.volumes !== undefined,
    csiImport: caps.csiImport && caps.onlinePhysicalCopies,
    csiDriver: link.cls.spec.csiDriver,
  };
  return engine === undefined ? { view, engine } : { view, engine, side: arraySide(link.cls, engine, signal) };
}

async function storageClassView(deps: PopulatorDeps, claim: V1PersistentVolumeClaim): Promise<StorageClassView> {
  const name = claim.spec?.storageClassName;
  if (name === undefined || name === "")
    return { missing: "the PVC names no StorageClass and the cluster has no default one: set spec.storageClassName" };
  const sc = await readOrUndefined(() => deps.storage.readStorageClass({ name }));
  if (sc === undefined) return { missing: `StorageClass ${name} does not exist` };
  const driver = await readOrUndefined(() => deps.storage.readCSIDriver({ name: sc.provisioner }));
  return {
    name,
    provisioner: sc.provisioner,
    waitForConsumer: sc.volumeBindingMode === "WaitForFirstConsumer",
    reclaimPolicy: sc.reclaimPolicy ?? "Delete",
    fsType: sc.parameters?.["csi.storage.k8s.io/fstype"] ?? "ext4",
    mountOptions: sc.mountOptions,
    csi: driver !== undefined,
    overrides: allowedOverrides(sc.parameters),
  };
}

const claimRefOf = (ref: ClaimRef): ObjectRef => ({
  apiVersion: "v1",
  kind: "PersistentVolumeClaim",
  namespace: ref.namespace,
  name: ref.name,
  uid: ref.uid,
});

async function act(deps: PopulatorDeps, gathering: Gathering, plan: Plan, log: Logger): Promise<Result> {
  const { g, secret, engine } = gathering;
  const event = (type: "Normal" | "Warning", reason: string, note: string, action = "Populate"): Promise<void> =>
    deps.ctx.events.record({ regarding: claimRefOf(g.ref), type, reason, action, note });
  switch (plan.kind) {
    case "ignore":
      return done;
    case "refuse":
      await event("Warning", plan.reason, plan.message);
      return after(30_000);
    case "wait":
      return after(plan.ms);
    case "start":
      return start(deps, g, secret, plan.copy, plan.node, event, log);
    case "startClone":
      if (engine === undefined) throw new Error("the copy's engine is gone");
      return startClone(deps, g, engine, plan.copy, event, log);
    case "importClone":
      return importClone(deps, g, plan.node, g.engine?.ok === true ? g.engine.csiDriver : "", event, log);
    case "cloneFailed":
      return cloneFailed(g, engine, plan.failure, plan.remove, event);
    case "replacePod": {
      await deletePod(deps, g);
      if (plan.failure === undefined) {
        log.info("Replacing a populator pod that pins another replica's address or certificate");
        return after(0);
      }
      const delay = retryDelayMs(plan.attempts);
      await event(
        "Warning",
        "PopulateFailed",
        `populator pod attempt ${plan.attempts} failed: ${plan.failure}; retrying in ${Math.round(delay / 1000)} s`,
      );
      await patchPrimeAnnotations(deps, g, {
        [attemptsAnnotation]: String(plan.attempts),
        [retryAtAnnotation]: new Date(g.now + delay).toISOString(),
      });
      return after(delay);
    }
    case "rebind":
      await rebind(deps, g, secret, plan, log);
      return after(2_000);
    case "finish": {
      await annotateClaim(deps, g, populatedFromOf(g));
      await cleanup(deps, g, secret);
      await removeClaimFinalizer(deps, g);
      await event("Normal", "Populated", `Bound to ${plan.volume}, which holds ${populatedFromOf(g)}`);
      log.info({ volume: plan.volume }, "Populated");
      return done;
    }
    case "cleanup":
      // The array clone first, while PVC′ still shows whether a PV holds it; PVC′'s own PV is deleted with PVC′.
      if (!(await abandonClone(g, engine, event, log))) return after(cloneRetryMs);
      await releasePrimeVolume(deps, g, log);
      await cleanup(deps, g, secret);
      await removeClaimFinalizer(deps, g);
      log.info({ why: plan.why }, "Cleaned up a population");
      return done;
  }
}

const populatedFromOf = (g: Gathered): string =>
  g.source === undefined ? "" : `${g.source.kind} ${g.source.name}${g.copy === undefined ? "" : ` (${g.copy.uid})`}`;

async function start(
  deps: PopulatorDeps,
  g: Gathered,
  secret: V1Secret | undefined,
  copy: CopyView,
  node: string | undefined,
  event: (type: "Normal" | "Warning", reason: string, note: string) => Promise<void>,
  log: Logger,
): Promise<Result> {
  const { core, settings } = deps;
  const ns = settings.namespace;
  // 1. The claim's finalizer, then the copy's: from here on a deletion of either waits for cleanup.
  if ((await hold(deps, g.claim.metadata ?? {}, g.ref, copy)) === undefined) return after(1_000);
  // 2. The token (kept in a Secret so the next leader can grant it again) with the certificate the pod is to pin,
  // and the grant. A Secret of an earlier leader holds its certificate: it is rewritten before any pod starts.
  let token: string;
  if (secret !== undefined) {
    token = tokenOf(secret);
    await pinCertificate(deps, secret, log);
  } else {
    token = randomBytes(32).toString("base64url");
    try {
      await core.createNamespacedSecret({
        namespace: ns,
        body: fromJson(V1Secret, tokenSecret(ns, g.ref, token, settings.source.caCert)),
      });
    } catch (e: unknown) {
      if (!isAlreadyExists(e)) throw e;
      return after(500);
    }
  }
  grant(deps, g, copy, token);
  // 3. PVC′, then the pod.
  if (g.prime === undefined) {
    try {
      await core.createNamespacedPersistentVolumeClaim({
        namespace: ns,
        body: fromJson(V1PersistentVolumeClaim, primeClaim(ns, g.claim, g.ref, { node })),
      });
    } catch (e: unknown) {
      if (!isAlreadyExists(e)) throw e;
    }
  }
  const image = settings.image ?? "";
  const pod: Json = populatorPod({ namespace: ns, image, source: settings.source, node }, g.ref);
  try {
    await core.createNamespacedPod({ namespace: ns, body: fromJson(V1Pod, pod) });
    const attempts = Number(g.prime?.metadata?.annotations?.[attemptsAnnotation] ?? "0");
    await event(
      "Normal",
      "Populating",
      `writing ${copy.kind} ${copy.name} (${copy.sizeBytes ?? 0} bytes) into ${ns}/${primeName(g.ref.uid)} with pod ` +
        `${ns}/${podName(g.ref.uid)}${attempts > 0 ? `, attempt ${attempts + 1}` : ""}`,
    );
    log.info({ pod: podName(g.ref.uid) }, "Started a populator pod");
  } catch (e: unknown) {
    if (!isAlreadyExists(e)) throw e;
  }
  return after(30_000);
}

function tokenOf(secret: V1Secret): string {
  return Buffer.from(secret.data?.[tokenKey] ?? "", "base64").toString("utf8");
}

/** Makes the claim's Secret (ours: gather checked its labels) hold this replica's certificate, if it does not yet. */
async function pinCertificate(deps: PopulatorDeps, secret: V1Secret, log: Logger): Promise<void> {
  const pem = deps.settings.source.caCert;
  const held = Buffer.from(secret.data?.[caKey] ?? "", "base64").toString("utf8");
  const uid = secret.metadata?.uid;
  if (held === pem) return;
  if (uid === undefined) throw new Error("the population's Secret has no uid");
  await deps.core.patchNamespacedSecret({
    namespace: deps.settings.namespace,
    name: secret.metadata?.name ?? "",
    body: [
      { op: "test", path: "/metadata/uid", value: uid },
      { op: "add", path: `/data/${caKey}`, value: Buffer.from(pem).toString("base64") },
    ],
  });
  log.info({ secret: secret.metadata?.name }, "Rewrote a population's Secret with this replica's certificate");
}

function grant(deps: PopulatorDeps, g: Gathered, copy: CopyView, token: string): void {
  const found = findCopy(deps.ctx, copy.kind, g.ref.namespace, copy.name);
  if (found === undefined || copy.volume === undefined || copy.sizeBytes === undefined) return;
  const volume = copy.volume;
  const ctx = deps.ctx;
  let engine: Promise<GrantSource["read"]> | undefined;
  const reader = (): Promise<GrantSource["read"]> => {
    engine ??= connect(
      ctx,
      { requested: found.spec.copyClassName, recorded: found.status?.copyClassName },
      () => Promise.resolve(true),
      "copy",
    ).then(({ engine: e }) => {
      const volumes = e?.volumes;
      if (volumes === undefined) throw new Error("the copy's engine cannot read volume data");
      return (offset, length) => volumes.readVolume(volume, offset, length);
    });
    engine.catch(() => {
      engine = undefined;
    });
    return engine;
  };
  deps.grants.grant(token, `${g.ref.namespace}/${g.ref.name}`, {
    sizeBytes: copy.sizeBytes,
    read: async (offset, length) => (await reader())(offset, length),
  });
}

async function deletePod(deps: PopulatorDeps, g: Gathered): Promise<void> {
  const uid = g.pod?.metadata?.uid;
  if (g.pod === undefined || uid === undefined || !isOurs(g.pod, g.ref)) return;
  await ignoreNotFound(() =>
    deps.core.deleteNamespacedPod({
      namespace: deps.settings.namespace,
      name: podName(g.ref.uid),
      gracePeriodSeconds: 0,
      body: deleteIf(uid),
    }),
  );
}

async function patchPrimeAnnotations(deps: PopulatorDeps, g: Gathered, values: Record<string, string>): Promise<void> {
  if (g.prime === undefined) return;
  await deps.core.patchNamespacedPersistentVolumeClaim({
    namespace: deps.settings.namespace,
    name: primeName(g.ref.uid),
    body: annotationOps(g.prime.metadata?.annotations, values),
  });
}

async function annotateClaim(deps: PopulatorDeps, g: Gathered, from: string): Promise<void> {
  if (g.claim.metadata?.annotations?.[populatedFromAnnotation] !== undefined) return;
  await deps.core.patchNamespacedPersistentVolumeClaim({
    namespace: g.ref.namespace,
    name: g.ref.name,
    body: annotationOps(g.claim.metadata?.annotations, { [populatedFromAnnotation]: from }),
  });
}

async function removeClaimFinalizer(deps: PopulatorDeps, g: Gathered): Promise<void> {
  const ops = removeFinalizerPatch(g.claim.metadata ?? {}, claimFinalizer);
  if (ops === undefined) return;
  await ignoreNotFound(() =>
    deps.core.patchNamespacedPersistentVolumeClaim({ namespace: g.ref.namespace, name: g.ref.name, body: ops }),
  );
}

/** Deletes the pod, PVC′ and the Secret of this claim — each only after its labels say it is this claim's. */
async function cleanup(deps: PopulatorDeps, g: Gathered, secret: V1Secret | undefined): Promise<void> {
  const ns = deps.settings.namespace;
  const { core } = deps;
  await deletePod(deps, g);
  const primeUid = g.prime?.metadata?.uid;
  if (g.prime !== undefined && primeUid !== undefined && isOurs(g.prime, g.ref))
    await ignoreNotFound(() =>
      core.deleteNamespacedPersistentVolumeClaim({
        namespace: ns,
        name: primeName(g.ref.uid),
        body: deleteIf(primeUid),
      }),
    );
  const secretUid = secret?.metadata?.uid;
  if (secret !== undefined && secretUid !== undefined && isOurs(secret, g.ref)) {
    deps.grants.revoke(tokenOf(secret));
    await ignoreNotFound(() =>
      core.deleteNamespacedSecret({ namespace: ns, name: secretName(g.ref.uid), body: deleteIf(secretUid) }),
    );
  }
}

/**
 * A claim given up while PVC′ holds a PV (not yet handed over, no Filesystem PV made of it): the PV is set to
 * Delete (guarded by its claimRef's UID) so that deleting PVC′ has the CSI driver delete the volume — with a
 * Retain class it would stay Released, holding a volume nobody claims.
 */
async function releasePrimeVolume(deps: PopulatorDeps, g: Gathered, log: Logger): Promise<void> {
  const pv = g.primePv;
  const primeUid = g.prime?.metadata?.uid;
  const name = pv?.metadata?.name;
  if (pv === undefined || name === undefined || primeUid === undefined || g.fsPv !== undefined) return;
  if (pv.spec?.claimRef?.uid !== primeUid || pv.spec.persistentVolumeReclaimPolicy === "Delete") return;
  await deps.core.patchPersistentVolume({
    name,
    body: [
      { op: "test", path: "/spec/claimRef/uid", value: primeUid },
      { op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Delete" },
    ],
  });
  log.info({ pv: name }, "Set the volume of a population given up to Delete");
}

/**
 * Hands PVC′'s volume to the claim. claimRef (a Block claim of the data path, and every array clone): PVC′'s PV is
 * bound ahead to the claim (its claimRef), as lib-volume-populator does; the PV controller completes the binding.
 * filesystemPv (a Filesystem claim of the data path, whose PVC′ is Block): PVC′'s PV is set to Retain
 * (checked in the answer before anything is deleted), a Filesystem PV for the same CSI volume is bound ahead to the
 * claim, then PVC′ and the Block PV object go — the volume stays, held by the new PV.
 */
async function rebind(
  deps: PopulatorDeps,
  g: Gathered,
  secret: V1Secret | undefined,
  plan: Extract<Plan, { kind: "rebind" }>,
  log: Logger,
): Promise<void> {
  const { core } = deps;
  const { handoff, pv, volume } = plan;
  const name = pv.metadata?.name ?? "";
  const from = populatedFromOf(g);
  const primeUid = g.prime?.metadata?.uid;
  if (primeUid === undefined || pv.spec?.claimRef?.uid !== primeUid) {
    log.warn({ pv: name }, "PVC′'s volume is not bound to PVC′: not touching it");
    return;
  }
  const annotations = annotationOps(pv.metadata?.annotations, {
    [populatedFromAnnotation]: from,
    ...(volume === undefined ? {} : { [arrayVolumeAnnotation]: volume }),
  });
  if (handoff === "claimRef") {
    const claimRef = { apiVersion: "v1", kind: "PersistentVolumeClaim", ...g.ref };
    await core.patchPersistentVolume({
      name,
      body: [
        { op: "test", path: "/spec/claimRef/uid", value: primeUid },
        { op: "replace", path: "/spec/claimRef", value: claimRef },
        ...annotations,
      ],
    });
    log.info({ pv: name }, "Bound the populated volume ahead to the claim");
    return;
  }
  const sc = g.storageClass;
  if (sc === undefined || "missing" in sc) throw new Error("the claim's StorageClass is gone");
  const retained = await core.patchPersistentVolume({
    name,
    body: [
      { op: "test", path: "/spec/claimRef/uid", value: primeUid },
      { op: "replace", path: "/spec/persistentVolumeReclaimPolicy", value: "Retain" },
      ...annotations,
    ],
  });
  if (retained.spec?.persistentVolumeReclaimPolicy !== "Retain") throw new Error(`PV ${name} did not take Retain`);
  try {
    await core.createPersistentVolume({
      body: fromJson(
        V1PersistentVolume,
        filesystemPv({
          claim: g.ref,
          block: retained,
          fsType: sc.fsType,
          reclaimPolicy: sc.reclaimPolicy,
          mountOptions: sc.mountOptions,
          populatedFrom: from,
        }),
      ),
    });
  } catch (e: unknown) {
    if (!isAlreadyExists(e)) throw e;
  }
  await cleanup(deps, g, secret);
  await ignoreNotFound(() => core.deletePersistentVolume({ name, body: deleteIf(retained.metadata?.uid ?? "") }));
  log.info({ pv: name, fsPv: `pvc-${g.ref.uid}` }, "Handed the populated volume to the claim in Filesystem mode");
}

// ---- copies ----

async function reconcileCopy(deps: PopulatorDeps, kind: CopyKind, key: string): Promise<Result> {
  const copy =
    kind === "VirtualCopy" ? deps.ctx.caches.virtualCopies.get(key) : deps.ctx.caches.physicalCopies.get(key);
  if (copy === undefined) return done;
  const ns = copy.metadata.namespace ?? "";
  const entries = claimEntries(deps.claims.list(ns), kind, copy);
  const has = hasFinalizer(copy.metadata, sourceFinalizer);
  // The claims' cache can lag the copy's (a claim's finalizer is added just before the copy's): a change of the
  // copy's finalizer is made only when the API server's own list of claims agrees.
  let needed = entries.some((e) => e.phase === "Populating");
  if (needed !== has) {
    const live = await deps.core.listNamespacedPersistentVolumeClaim({ namespace: ns });
    needed = claimEntries(live.items, kind, copy).some((e) => e.phase === "Populating");
  }
  if (!needed && has) {
    const ops = removeFinalizerPatch(copy.metadata, sourceFinalizer);
    if (ops !== undefined) await deps.patchCopy(kind, copy, ops);
  }
  if (needed && !has && !isDeleting(copy.metadata)) {
    const ops = addFinalizerPatch(copy.metadata, sourceFinalizer);
    if (ops !== undefined) await deps.patchCopy(kind, copy, ops);
  }
  if (isDeleting(copy.metadata) && !has) return done;
  await deps.status[kind].write(
    { apiVersion, kind, ...copy },
    { fields: { volumeClaims: entries.length === 0 ? undefined : entries }, conditions: [] },
  );
  return done;
}

/** The claims of the copy's namespace that name it, and how far each is (the copy's status.volumeClaims). */
function claimEntries(claims: readonly V1PersistentVolumeClaim[], kind: CopyKind, copy: AnyCopy) {
  const ns = copy.metadata.namespace ?? "";
  return claims
    .filter((c) => {
      const s = copySourceOf(c);
      return s?.kind === kind && s.name === copy.metadata.name && (s.namespace ?? ns) === ns;
    })
    .map((c) => {
      const populated = c.metadata?.annotations?.[populatedFromAnnotation] !== undefined && c.status?.phase === "Bound";
      const populating = !populated && hasFinalizer(c.metadata ?? {}, claimFinalizer);
      return {
        name: c.metadata?.name ?? "",
        phase: populated ? "Populated" : populating ? "Populating" : "Pending",
        ...(populated && c.spec?.volumeName !== undefined ? { volumeName: c.spec.volumeName } : {}),
      };
    })
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The claim key an object in the operator's namespace (PVC′, the pod) serves, from its annotation. */
export function claimOfOwned(obj: { metadata?: { annotations?: Record<string, string> } } | undefined): string[] {
  const claim = obj?.metadata?.annotations?.[claimAnnotation];
  return claim === undefined ? [] : [claimKey(claim)];
}
