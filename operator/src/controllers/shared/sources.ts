// Volume resolution: a copy's source (or target) names an array volume directly, or a PersistentVolumeClaim
// whose bound PersistentVolume is a CSI volume of the class's driver; the PV's volumeHandle names the array
// volume. The decision is pure (`resolveFromObjects`); `VolumeResolver` only fetches the two objects.
import type { CoreV1Api } from "@kubernetes/client-node";
import { isNotFound } from "../../kube/errors.ts";

export interface VolumeRef {
  readonly persistentVolumeClaimName?: string | undefined;
  readonly volumeName?: string | undefined;
}

export type SourceReason = "SourceNotFound" | "SourceNotBound" | "SourceDriverMismatch";

export type VolumeResolution =
  | { readonly ok: true; readonly volume: string }
  | { readonly ok: false; readonly reason: SourceReason; readonly message: string };

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
}

const arrayNamePattern = /^[A-Za-z0-9_.-]{1,31}$/;

export function resolveFromObjects(
  namespace: string,
  claimName: string,
  claim: ClaimView | undefined,
  volume: VolumeView | undefined,
  csiDriver: string,
): VolumeResolution {
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
  if (volume.csiDriver !== csiDriver) {
    const driver = volume.csiDriver === undefined ? "not a CSI volume" : `of CSI driver ${volume.csiDriver}`;
    return {
      ok: false,
      reason: "SourceDriverMismatch",
      message: `${pv} is ${driver}; the CopyClass copies volumes of ${csiDriver}`,
    };
  }
  const handle = volume.volumeHandle ?? "";
  if (!arrayNamePattern.test(handle)) {
    return {
      ok: false,
      reason: "SourceDriverMismatch",
      message: `${pv} has volumeHandle "${handle}", which is not an array volume name`,
    };
  }
  return { ok: true, volume: handle };
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

export class VolumeResolver {
  readonly #core: CoreV1Api;

  constructor(core: CoreV1Api) {
    this.#core = core;
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

  async resolve(namespace: string, ref: VolumeRef, csiDriver: string): Promise<VolumeResolution> {
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
            volumeHandle: pv.spec?.csi?.volumeHandle,
          };
    return resolveFromObjects(namespace, claimName, claimView, volumeView, csiDriver);
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
