// The array clone's actions (strategy.ts decides them): the array copies the copy into a volume of ours, PVC′ asks
// the CSI driver to import it, and — when a claim is abandoned midway — what was made is removed without ever
// touching a volume a PV holds (that one is the CSI driver's, deleted with its PV) or one not proven ours.
//
// Owns on the array: cl-<24 hex of the claim's uid>, an online physical copy of the copy's volume, tagged with the
// claim (namespace, name, uid) as owner. Deletes go through the engine, which reads the tag on its side and refuses
// another owner's volume (NotOwned); the controller checks the observed tag first as well.
import { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { EngineError, messageOf } from "../../engine/errors.ts";
import type { Engine, OwnerTag } from "../../engine/port.ts";
import { after, type Result } from "../../kube/controller.ts";
import { isAlreadyExists } from "../../kube/errors.ts";
import { fromJson } from "../../kube/models.ts";
import { hold } from "./calls.ts";
import type { CopyView, Gathered } from "./decide.ts";
import {
  arrayVolumeAnnotation,
  cloneName,
  populatedFromAnnotation,
  primeClaim,
  primeName,
  type ClaimRef,
} from "./objects.ts";
import type { PopulatorDeps } from "./reconciler.ts";
import { importParameter, isOwnClone, type CloneView } from "./strategy.ts";

export type Note = (type: "Normal" | "Warning", reason: string, note: string) => Promise<void>;

/** The wait before another attempt at a clone that failed or could not be made. */
export const cloneRetryMs = 60_000;

const ownerOf = (ref: ClaimRef): OwnerTag => ({ namespace: ref.namespace, name: ref.name, uid: ref.uid });

/** What the engine holds under the claim's clone name. */
export async function observeClone(engine: Engine, ref: ClaimRef, signal: AbortSignal): Promise<CloneView> {
  const seen = await engine.observeCopy(cloneName(ref.uid), { signal });
  if (seen === undefined) return { state: "absent" };
  if (seen.owner.uid !== ref.uid)
    return { state: "foreign", owner: `${seen.owner.namespace}/${seen.owner.name} (${seen.owner.uid})` };
  if (seen.activeJob !== undefined) return { state: "copying", percent: seen.synchronization?.percentSynced ?? 0 };
  if (seen.contentComplete) return { state: "complete", sizeBytes: seen.sizeBytes };
  return { state: "failed", why: "the array's copy ended without a complete image (halted or failed)" };
}

/** Finalizers first (so a deletion from here on waits for cleanup), then the online copy on the array. */
export async function startClone(
  deps: PopulatorDeps,
  g: Gathered,
  engine: Engine,
  copy: CopyView,
  note: Note,
  log: Logger,
): Promise<Result> {
  const found = await hold(deps, g.claim.metadata ?? {}, g.ref, copy);
  if (found === undefined || copy.volume === undefined) return after(1_000);
  const name = cloneName(g.ref.uid);
  try {
    await engine.createPhysicalCopy({
      name,
      source: copy.volume,
      online: true,
      saveSnapshot: false,
      owner: ownerOf(g.ref),
    });
  } catch (e: unknown) {
    if (!(e instanceof EngineError) || e.kind !== "final") throw e;
    await note("Warning", "PopulateFailed", `cannot make array volume ${name}: ${e.message}; retrying in 60 s`);
    return after(cloneRetryMs);
  }
  await note(
    "Normal",
    "Populating",
    `the array is copying ${copy.kind} ${copy.name} (${copy.sizeBytes ?? 0} bytes, array volume ${copy.volume}) ` +
      `into array volume ${name}, to be imported as ${deps.settings.namespace}/${primeName(g.ref.uid)}`,
  );
  log.info({ volume: name, source: copy.volume }, "Started the array clone");
  return after(2_000);
}

/** PVC′ in the claim's own volume mode, annotated so that `driver` imports the clone rather than make a volume. */
export async function importClone(
  deps: PopulatorDeps,
  g: Gathered,
  node: string | undefined,
  driver: string,
  note: Note,
  log: Logger,
): Promise<Result> {
  const ns = deps.settings.namespace;
  const name = cloneName(g.ref.uid);
  const body = primeClaim(ns, g.claim, g.ref, {
    node,
    volumeMode: g.claim.spec?.volumeMode ?? "Filesystem",
    annotations: { [`${driver}/${importParameter}`]: name, [arrayVolumeAnnotation]: name },
  });
  try {
    await deps.core.createNamespacedPersistentVolumeClaim({
      namespace: ns,
      body: fromJson(V1PersistentVolumeClaim, body),
    });
  } catch (e: unknown) {
    if (!isAlreadyExists(e)) throw e;
    return after(1_000);
  }
  await note(
    "Normal",
    "Populating",
    `array volume ${name} holds the copy; ${ns}/${primeName(g.ref.uid)} asks ${driver} to import it`,
  );
  log.info({ volume: name, prime: primeName(g.ref.uid) }, "Asked the CSI driver to import the array clone");
  return after(5_000);
}

/** A clone that failed (deleted when ours, so the next attempt starts afresh) or a name taken by someone else. */
export async function cloneFailed(
  g: Gathered,
  engine: Engine | undefined,
  failure: string,
  remove: boolean,
  note: Note,
): Promise<Result> {
  await note("Warning", "PopulateFailed", `array clone ${cloneName(g.ref.uid)}: ${failure}; retrying in 60 s`);
  if (remove && engine !== undefined && isOwnClone(g.clone))
    await engine.deleteCopy({ name: cloneName(g.ref.uid), owner: ownerOf(g.ref) });
  return after(cloneRetryMs);
}

/**
 * The PV that may hold the imported clone, if any: PVC′'s (by its volumeName, or its claimRef before that), the
 * claim's own once bound, or the claim's volume once it was handed over (populated-from on the claim).
 */
export function heldByPv(g: Gathered): string | undefined {
  const nonEmpty = (s: string | undefined): string | undefined => (s === undefined || s === "" ? undefined : s);
  const handedOver = g.claim.metadata?.annotations?.[populatedFromAnnotation] === undefined ? undefined : "the claim's";
  return (
    g.primePv?.metadata?.name ??
    nonEmpty(g.prime?.spec?.volumeName) ??
    g.fsPv?.metadata?.name ??
    nonEmpty(g.claim.spec?.volumeName) ??
    handedOver
  );
}

/**
 * For a claim given up midway (deleted, or bound elsewhere), before PVC′ goes (while PVC′ still tells whether a
 * PV holds the clone): deletes our clone unless a PV holds it. Resolves false (and says why) when it cannot tell
 * whether a clone is left or cannot delete it — then PVC′ stays and the claim keeps its finalizer until it can.
 */
export async function abandonClone(g: Gathered, engine: Engine | undefined, note: Note, log: Logger): Promise<boolean> {
  if (g.clone === undefined) {
    if (g.engine === undefined || g.engine.ok) return true;
    await note(
      "Warning",
      "PopulateFailed",
      `cannot tell whether an array clone is left to delete: ${g.engine.message}`,
    );
    return false;
  }
  if (!isOwnClone(g.clone)) return true;
  const pv = heldByPv(g);
  const name = cloneName(g.ref.uid);
  if (pv !== undefined) {
    log.info({ volume: name, pv }, "Left the array clone to the PV that holds it");
    return true;
  }
  if (engine === undefined) return false;
  try {
    await engine.deleteCopy({ name, owner: ownerOf(g.ref) });
  } catch (e: unknown) {
    await note("Warning", "PopulateFailed", `cannot delete array volume ${name}: ${messageOf(e)}`);
    return false;
  }
  log.info({ volume: name }, "Deleted the array clone of a population given up");
  return true;
}
