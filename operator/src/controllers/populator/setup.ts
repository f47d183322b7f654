// The populator controller: woken by claims (PVCs naming a copy in dataSourceRef), by what it made for them in the
// operator's namespace (PVC′ and the pod, mapped back through their claim annotation), and by copies (their
// status.volumeClaims, and claims waiting for a copy to become Ready).
import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import type { Informer } from "../../kube/informer.ts";
import type { PopulationGrants } from "../../populator/source.ts";
import { contextFor, metadataPatcher, statusWriter, type ControllerSetup, type SetupDeps } from "../shared/setup.ts";
import { copySourceOf, type Settings } from "./decide.ts";
import type { CopyKind } from "./objects.ts";
import { claimKey, claimOfOwned, copyKey, populatorReconciler } from "./reconciler.ts";

export interface PopulatorWiring {
  readonly claims: Informer<V1PersistentVolumeClaim>;
  readonly pods: Informer<V1Pod>;
  readonly settings: Settings;
  readonly grants: PopulationGrants;
}

export function populatorSetup(deps: SetupDeps, wiring: PopulatorWiring): ControllerSetup {
  const { caches } = deps.ctx;
  const { claims, pods, settings } = wiring;
  // The copy each claim named when last seen, so a deleted claim still wakes its copy (to drop it from the list).
  const lastCopy = new Map<string, string>();
  const ofClaim = (key: string): string[] => {
    const claim = claims.get(key);
    if (claim?.metadata?.namespace === settings.namespace && claimOfOwned(claim).length > 0) return claimOfOwned(claim);
    const source = claim === undefined ? undefined : copySourceOf(claim);
    const copy = source === undefined ? lastCopy.get(key) : copyKey(source.kind, `${key.split("/")[0]}/${source.name}`);
    if (source === undefined) lastCopy.delete(key);
    else if (copy !== undefined) lastCopy.set(key, copy);
    return copy === undefined ? (claim === undefined ? [] : [claimKey(key)]) : [claimKey(key), copy];
  };
  const ofCopy = (kind: CopyKind) => (key: string) => {
    const [ns = "", name = ""] = key.split("/");
    const waiting = claims
      .list(ns)
      .filter((c) => {
        const s = copySourceOf(c);
        return s?.kind === kind && s.name === name;
      })
      .map((c) => claimKey(`${ns}/${c.metadata?.name ?? ""}`));
    return [copyKey(kind, key), ...waiting];
  };
  const patchVc = metadataPatcher(deps, "VirtualCopy");
  const patchPc = metadataPatcher(deps, "PhysicalCopy");
  return {
    name: "populator",
    watches: [
      { source: claims, map: ofClaim },
      { source: pods, map: (key) => claimOfOwned(pods.get(key)) },
      { source: caches.virtualCopies, map: ofCopy("VirtualCopy") },
      { source: caches.physicalCopies, map: ofCopy("PhysicalCopy") },
    ],
    reconcile: populatorReconciler({
      ctx: contextFor(deps, "populator"),
      core: deps.clients.core,
      storage: deps.clients.storage,
      claims,
      pods,
      settings,
      grants: wiring.grants,
      status: {
        VirtualCopy: statusWriter(deps, "VirtualCopy", "arraycopy-populator"),
        PhysicalCopy: statusWriter(deps, "PhysicalCopy", "arraycopy-populator"),
      },
      patchCopy: (kind, copy, ops) => (kind === "VirtualCopy" ? patchVc(copy, ops) : patchPc(copy, ops)),
    }),
  };
}
