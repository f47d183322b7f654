// Which of the two strategies serves a claim, from what the copy's engine can do and the claim's StorageClass —
// never from the driver's name — and the steps of the array clone (pure; decide.ts calls them).
//
//   data path    the engine reads volume data: PVC′ (Block) is written by a populator pod (decide.ts)
//   array clone  the engine makes volumes the class's CSI driver imports (capability csiImport) and the claim's
//                StorageClass is of that driver and lets a PVC override importVolumeName: the array copies the
//                copy into a new volume (an online physical copy, tagged with the claim as owner), then PVC′ asks
//                the CSI driver to import that volume by name (its importVolumeName annotation); PVC′'s PV is
//                handed to the claim as the data path hands its own.
//
// The array clone is preferred when both serve: nothing crosses the network, the array copies at its own speed.
import type { CopyView, EngineView, Gathered, Plan, StorageClassView } from "./decide.ts";
import { cloneName, primeName } from "./objects.ts";

export type Strategy = "dataPath" | "arrayClone";

/** The HPE CSI driver's parameter (and, after `<driver>/`, its PVC annotation) naming the volume to import. */
export const importParameter = "importVolumeName";

/** What the engine observed under the claim's clone name (cloneName of the claim's UID). */
export type CloneView =
  | { readonly state: "absent" }
  /** A volume of that name whose owner tag is not this claim's: never adopted, never deleted. */
  | { readonly state: "foreign"; readonly owner: string }
  | { readonly state: "copying"; readonly percent: number }
  | { readonly state: "complete"; readonly sizeBytes: number }
  | { readonly state: "failed"; readonly why: string };

/** The clone observed is ours: its owner tag names the claim. */
export function isOwnClone(clone: CloneView | undefined): boolean {
  const s = clone?.state;
  return s === "copying" || s === "complete" || s === "failed";
}

type UsableEngine = Extract<EngineView, { ok: true }>;
type FoundClass = Exclude<StorageClassView, { missing: string }>;

/**
 * The override keys a StorageClass allows, read as the HPE CSI driver reads its allowOverrides parameter
 * (comma-separated, each trimmed, empty ones dropped).
 */
export function allowedOverrides(parameters: Readonly<Record<string, string>> | undefined): string[] {
  return (parameters?.["allowOverrides"] ?? "")
    .split(",")
    .map((k) => k.trim())
    .filter((k) => k !== "");
}

export function strategyOf(
  engine: UsableEngine,
  sc: FoundClass,
): { readonly strategy: Strategy } | { readonly refusal: string } {
  const importer = engine.csiImport && sc.provisioner === engine.csiDriver;
  if (importer && sc.overrides.includes(importParameter)) return { strategy: "arrayClone" };
  if (engine.readsVolumes) return { strategy: "dataPath" };
  if (importer)
    return {
      refusal:
        `the engine of CopyClass ${engine.className} cannot read volume data, and StorageClass ${sc.name} does not ` +
        `let a PVC override ${importParameter}, so ${sc.provisioner} would not import the array's clone: add ` +
        `${importParameter} to the StorageClass's allowOverrides parameter`,
    };
  if (engine.csiImport)
    return {
      refusal:
        `the engine of CopyClass ${engine.className} cannot read volume data, and its array clone needs a ` +
        `StorageClass of CSI driver ${engine.csiDriver} (the CopyClass's csiDriver), but StorageClass ${sc.name} ` +
        `is of ${sc.provisioner}`,
    };
  return {
    refusal:
      `the engine of CopyClass ${engine.className} cannot read volume data (the data path) and cannot make ` +
      "volumes its CSI driver imports (the array clone)",
  };
}

/** The array clone's next step for a valid claim, once any wait for a consumer is over. */
export function cloneStep(g: Gathered, copy: CopyView, node: string | undefined, driver: string): Plan {
  const name = cloneName(g.ref.uid);
  if (g.prime === undefined) {
    const c = g.clone ?? { state: "absent" };
    switch (c.state) {
      case "absent":
        return { kind: "startClone", copy };
      case "foreign":
        return {
          kind: "cloneFailed",
          failure: `array volume ${name} exists and is not this PVC's (its owner tag names ${c.owner})`,
          remove: false,
        };
      case "copying":
        return {
          kind: "wait",
          message: `the array is copying ${copy.kind} ${copy.name} into ${name} (${c.percent} %)`,
          ms: 5_000,
        };
      case "failed":
        return { kind: "cloneFailed", failure: c.why, remove: true };
      case "complete":
        return { kind: "importClone", node };
    }
  }
  const pv = g.primePv;
  const primeVolume = g.prime.spec?.volumeName;
  if (pv === undefined || primeVolume === undefined || primeVolume !== pv.metadata?.name)
    return {
      kind: "wait",
      message: `waiting for ${driver} to import array volume ${name} as ${primeName(g.ref.uid)}`,
      ms: 10_000,
    };
  // The HPE CSP renames the volume it imports to the PV's volume (docs/sources.md): our clone still there under its
  // own name means the PV holds some other volume (a blank one, had the driver ignored the annotation).
  const pvName = primeVolume;
  // A Warning, retried, and nothing deleted: the PV is the driver's, and a clone it did not take stays ours.
  if (isOwnClone(g.clone))
    return {
      kind: "cloneFailed",
      failure:
        `${primeName(g.ref.uid)} is bound to PV ${pvName}, but the clone is still on the array under its own name: ` +
        `${driver} did not import it (an import renames it to the PV's volume); the PV is not handed over`,
      remove: false,
    };
  const imported = g.imported;
  if (imported?.ok !== true)
    return {
      kind: "cloneFailed",
      failure:
        `${primeName(g.ref.uid)} is bound to PV ${pvName}, whose array volume cannot be confirmed` +
        (imported === undefined ? "" : `: ${imported.message}`) +
        "; the PV is not handed over",
      remove: false,
    };
  return { kind: "rebind", handoff: "claimRef", pv, volume: imported.volume };
}
