// Volume resolution: a copy's source (or target) names an array volume directly, or a PersistentVolumeClaim
// whose bound PersistentVolume is a CSI volume of the class's driver; the PV names the array volume as that
// driver family does (handles.ts). The decision is pure (`resolveFromObjects`); `VolumeResolver` fetches the
// objects and, when the name was derived rather than given (the HPE CSP's), asks the array that it holds it.
import type { CoreV1Api, CustomObjectsApi } from "@kubernetes/client-node";
import type { CsiVolumeHandle, Engine } from "../../engine/port.ts";
import { isForbidden, isNotFound } from "../../kube/errors.ts";
import { arrayVolumeOf, type CspRecordView, type HandleMapping } from "./handles.ts";

export type { HandleMapping } from "./handles.ts";

export interface VolumeRef {
  readonly persistentVolumeClaimName?: string | undefined;
  readonly volumeName?: string | undefined;
}

export type SourceReason = "SourceNotFound" | "SourceNotBound" | "SourceDriverMismatch";

export type VolumeResolution =
  | { readonly ok: true; readonly volume: string }
  | { readonly ok: false; readonly reason: SourceReason; readonly message: string };

/** A resolution whose volume name the array must still confirm (`check` says how it was derived). */
export type Candidate = VolumeResolution | { readonly ok: true; readonly volume: string; readonly check: string };

/** The parts of a PVC and a PV the decision reads. */
export interface ClaimView {
  readonly uid?: string | undefined;
  readonly volumeName?: string | undefined;
}
export interface VolumeView {
  readonly claimRef?:
    | { readonly namespace?: string | undefined; readonly name?: string | undefined; readonly uid?: string | undefined }
    | undefined;
  readonly csiDriver?: string | undefined;
  readonly volumeHandle?: string | undefined;
  /** The CSP's record of the PV's volume (HPE3PARCSP: the HPEVolumeInfo named by the handle), if any. */
  readonly cspRecord?: CspRecordView | undefined;
}

export function resolveFromObjects(
  namespace: string,
  claimName: string,
  claim: ClaimView | undefined,
  volume: VolumeView | undefined,
  mapping: HandleMapping,
): Candidate {
  const what = `PersistentVolumeClaim ${namespace}/${claimName}`;
  if (claim === undefined) return { ok: false, reason: "SourceNotFound", message: `${what} not found` };
  if (claim.volumeName === undefined || claim.volumeName === "")
    return { ok: false, reason: "SourceNotBound", message: `${what} is not bound to a PersistentVolume` };
  const pv = `PersistentVolume ${claim.volumeName}`;
  if (volume === undefined) return { ok: false, reason: "SourceNotFound", message: `${pv} of ${what} not found` };
  const ref = volume.claimRef;
  if (
    ref?.namespace !== namespace ||
    ref.name !== claimName ||
    (ref.uid !== undefined && claim.uid !== undefined && ref.uid !== claim.uid)
  ) {
    return { ok: false, reason: "SourceNotBound", message: `${pv} is not bound to ${what}` };
  }
  const { csiDriver } = mapping;
  if (volume.csiDriver !== csiDriver) {
    const driver = volume.csiDriver === undefined ? "not a CSI volume" : `of CSI driver ${volume.csiDriver}`;
    return {
      ok: false,
      reason: "SourceDriverMismatch",
      message: `${pv} is ${driver}; the CopyClass copies volumes of ${csiDriver}`,
    };
  }
  const named = arrayVolumeOf(pv, volume.volumeHandle ?? "", volume.cspRecord, mapping);
  if (!named.ok) return { ok: false, reason: "SourceDriverMismatch", message: named.message };
  return named.check === undefined
    ? { ok: true, volume: named.volume }
    : { ok: true, volume: named.volume, check: `${pv}'s array volume ${named.volume} (${named.check})` };
}

/** A label selector, as metav1.LabelSelector holds it. */
export interface LabelSelectorView {
  readonly matchLabels?: Readonly<Record<string, string>> | undefined;
  readonly matchExpressions?:
    | readonly { readonly key: string; readonly operator: string; readonly values?: readonly string[] | undefined }[]
    | undefined;
}

/** The selector in the apiserver's labelSelector syntax ("app=db,tier in (data,wal),!legacy"). */
export function selectorString(sel: LabelSelectorView): string {
  const parts = Object.entries(sel.matchLabels ?? {}).map(([k, v]) => `${k}=${v}`);
  for (const e of sel.matchExpressions ?? []) {
    const values = (e.values ?? []).join(",");
    if (e.operator === "In") parts.push(`${e.key} in (${values})`);
    else if (e.operator === "NotIn") parts.push(`${e.key} notin (${values})`);
    else if (e.operator === "Exists") parts.push(e.key);
    else parts.push(`!${e.key}`);
  }
  return parts.join(",");
}

/** Where a PV's array volume is resolved: the class's handle rule and the array that must hold what it derives. */
export interface ArraySide extends HandleMapping {
  readonly engine: Pick<Engine, "observeVolume">;
  readonly signal?: AbortSignal;
}

/** The HPE CSI driver's record of a PV's volume (its 3PAR CSP keeps one per PV, cluster-scoped). */
export const hpeVolumeInfo = { group: "storage.hpe.com", version: "v2", plural: "hpevolumeinfos" } as const;

export class VolumeResolver {
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi | undefined;

  /** Without `custom`, HPEVolumeInfo records are not read (the handle's own rule applies). */
  constructor(core: CoreV1Api, custom?: CustomObjectsApi) {
    this.#core = core;
    this.#custom = custom;
  }

  /** The names of the namespace's claims the selector matches, sorted. */
  async claimsMatching(namespace: string, selector: LabelSelectorView): Promise<string[]> {
    const list = await this.#core.listNamespacedPersistentVolumeClaim({
      namespace,
      labelSelector: selectorString(selector),
    });
    return list.items
      .map((c) => c.metadata?.name ?? "")
      .filter((n) => n !== "")
      .sort();
  }

  async resolve(namespace: string, ref: VolumeRef, side: ArraySide): Promise<VolumeResolution> {
    if (ref.volumeName !== undefined) return { ok: true, volume: ref.volumeName };
    const claimName = ref.persistentVolumeClaimName ?? "";
    const claim = await orUndefined(this.#core.readNamespacedPersistentVolumeClaim({ namespace, name: claimName }));
    const claimView =
      claim === undefined ? undefined : { uid: claim.metadata?.uid, volumeName: claim.spec?.volumeName };
    const pvName = claimView?.volumeName;
    const pv =
      pvName === undefined || pvName === ""
        ? undefined
        : await orUndefined(this.#core.readPersistentVolume({ name: pvName }));
    const handle = pv?.spec?.csi?.volumeHandle;
    const ofDriver = pv?.spec?.csi?.driver === side.csiDriver;
    const record =
      ofDriver && side.handles === "HPE3PARCSP" && handle !== undefined && handle !== ""
        ? await this.#cspRecord(handle)
        : undefined;
    const volumeView =
      pv === undefined
        ? undefined
        : {
            claimRef: {
              namespace: pv.spec?.claimRef?.namespace,
              name: pv.spec?.claimRef?.name,
              uid: pv.spec?.claimRef?.uid,
            },
            csiDriver: pv.spec?.csi?.driver,
            volumeHandle: handle,
            cspRecord: record,
          };
    const r = resolveFromObjects(namespace, claimName, claimView, volumeView, side);
    if (!r.ok || !("check" in r)) return r;
    const seen = await side.engine.observeVolume(r.volume, side.signal === undefined ? {} : { signal: side.signal });
    if (seen === undefined) return { ok: false, reason: "SourceNotFound", message: `${r.check} is not on the array` };
    return { ok: true, volume: r.volume };
  }

  /**
   * The HPEVolumeInfo named by the handle, as { id, name } from its spec.record (Id, Name); undefined when there is
   * none, or the CRD is not installed, or the operator may not read it (then the handle's rule applies).
   */
  async #cspRecord(handle: string): Promise<CspRecordView | undefined> {
    if (this.#custom === undefined) return undefined;
    let obj: unknown;
    try {
      obj = await this.#custom.getClusterCustomObject({ ...hpeVolumeInfo, name: handle });
    } catch (e: unknown) {
      if (isNotFound(e) || isForbidden(e)) return undefined;
      throw e;
    }
    const record = (obj as { spec?: { record?: Record<string, unknown> } } | undefined)?.spec?.record ?? {};
    const text = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
    return { id: text(record["Id"]), name: text(record["Name"]) };
  }
}

async function orUndefined<T>(p: Promise<T>): Promise<T | undefined> {
  try {
    return await p;
  } catch (e: unknown) {
    if (isNotFound(e)) return undefined;
    throw e;
  }
}

/** The array side of a class's resolutions: its CSI driver, its handle rule (else the engine's), its engine. */
export function arraySide(
  cls: { readonly spec: { readonly csiDriver: string; readonly csiVolumeHandle?: CsiVolumeHandle | undefined } },
  engine: Engine,
  signal?: AbortSignal,
): ArraySide {
  const caps = engine.capabilities();
  return {
    csiDriver: cls.spec.csiDriver,
    handles: cls.spec.csiVolumeHandle ?? caps.csiVolumeHandle,
    maxNameLength: caps.maxNameLength,
    engine,
    ...(signal === undefined ? {} : { signal }),
  };
}
