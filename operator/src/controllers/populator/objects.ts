// What the populator makes for a user's PVC (the "claim") and how it names and recognises it. Everything lives in
// the operator's namespace and is named from the claim's UID, so a restart, a second replica or a retry always
// finds the same objects; each carries the claim's UID in a label, and nothing is deleted unless that label (and
// our managed-by label) says it belongs to the claim meant — never on the word of a list filter alone.
//
//   Secret   populate-<uid>  the population's bearer token (the operator keeps only its hash in memory) and the
//                            data path's certificate (ca.crt), which the pod pins
//   PVC′     prime-<uid>     the volume the populator pod writes, from the claim's StorageClass and size, in Block mode
//   Pod      populate-<uid>  the operator's own image running dist/populator/cli.js against PVC′'s device
//
// The array clone makes no Secret and no pod: on the array a volume cl-<24 hex digits of the uid> (tagged with the
// claim as owner), and PVC′ in the claim's own volume mode, annotated for the CSI driver to import that volume.
import type { V1PersistentVolume, V1PersistentVolumeClaim } from "@kubernetes/client-node";
import { toJson } from "../../kube/models.ts";
import { arrayName } from "../shared/naming.ts";

/** A request body as the API's JSON; kube/models.ts fromJson makes the client's model of it. */
export type Json = Record<string, unknown>;

export const populatorLabel = "arraycopy.io/populator";
export const claimUidLabel = "arraycopy.io/claim-uid";
export const managedBy = { "app.kubernetes.io/managed-by": "arraycopy" } as const;
/** The claim namespace/name an object serves (also how PVC′ and pod events map back to the claim's key). */
export const claimAnnotation = "arraycopy.io/claim";
/**
 * On the pod: the source it was given, its URL and its certificate's fingerprint (sourceIdentity): a pod of an
 * earlier leader, or of this replica before it restarted, pins a server that is gone.
 */
export const sourceAnnotation = "arraycopy.io/populate-source";
/** The Secret's keys: the bearer token and the data path's certificate, mounted as files of these names. */
export const tokenKey = "token";
export const caKey = "ca.crt";
/** On PVC′: how many populator pods have failed (the backoff before the next one grows with it). */
export const attemptsAnnotation = "arraycopy.io/populate-attempts";
/** On the claim: the copy it was populated from, once it is (kind/name/uid); on the PV too. */
export const populatedFromAnnotation = "arraycopy.io/populated-from";
/** On the claim while a population runs: removed once the claim is Bound to the populated volume (or deleted). */
export const claimFinalizer = "arraycopy.io/populate-target";
/** On the copy while a claim is being populated from it: the copy (and its array object) stays until then. */
export { populateSourceFinalizer as sourceFinalizer } from "../shared/objects.ts";
export const selectedNodeAnnotation = "volume.kubernetes.io/selected-node";
const provisionedByAnnotation = "pv.kubernetes.io/provisioned-by";

export const devicePath = "/dev/arraycopy-target";
const tokenDir = "/var/run/arraycopy";

export type CopyKind = "VirtualCopy" | "PhysicalCopy";

export interface ClaimRef {
  readonly namespace: string;
  readonly name: string;
  readonly uid: string;
}

export const secretName = (uid: string): string => `populate-${uid}`;
export const primeName = (uid: string): string => `prime-${uid}`;
export const podName = (uid: string): string => `populate-${uid}`;
/** The array clone's volume on the array, from the claim's UID (31 characters at most, as the array allows). */
export const cloneName = (uid: string): string => arrayName("cl", uid);
/** On PVC′ of an array clone: the array volume it imports (for people; the CSI driver reads its own annotation). */
export const arrayVolumeAnnotation = "arraycopy.io/array-volume";

function labels(claim: ClaimRef): Record<string, string> {
  return { ...managedBy, [populatorLabel]: "true", [claimUidLabel]: claim.uid };
}

function meta(name: string, namespace: string, claim: ClaimRef, annotations: Record<string, string> = {}) {
  return {
    name,
    namespace,
    labels: labels(claim),
    annotations: { [claimAnnotation]: `${claim.namespace}/${claim.name}`, ...annotations },
  };
}

/** True when `obj` was made by us for `claim` (both labels match): the only objects cleanup deletes. */
export function isOurs(obj: { metadata?: { labels?: Record<string, string> } } | undefined, claim: ClaimRef): boolean {
  const l = obj?.metadata?.labels;
  return (
    l?.[claimUidLabel] === claim.uid &&
    l[populatorLabel] === "true" &&
    l["app.kubernetes.io/managed-by"] === "arraycopy"
  );
}

/** What a populator pod is given to reach and trust this replica's data path. */
export interface DataPathSource {
  /** https://host:port */
  readonly address: string;
  /** The data path's certificate (PEM), pinned by the pod. */
  readonly caCert: string;
  /** Its SHA-256 fingerprint (sha256:<hex>), kube/self-signed.ts certFingerprint. */
  readonly caFingerprint: string;
}

/** The pod's sourceAnnotation: the server it trusts, by address and certificate. */
export const sourceIdentity = (s: DataPathSource): string => `${s.address} ${s.caFingerprint}`;

export function tokenSecret(namespace: string, claim: ClaimRef, token: string, caCert: string): Json {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: meta(secretName(claim.uid), namespace, claim),
    type: "Opaque",
    data: { [tokenKey]: Buffer.from(token).toString("base64"), [caKey]: Buffer.from(caCert).toString("base64") },
  };
}

export interface PrimeOptions {
  readonly node?: string | undefined;
  /** Block for the data path (it writes a whole device); the claim's own mode for the array clone. */
  readonly volumeMode?: string;
  readonly annotations?: Readonly<Record<string, string>>;
}

/** PVC′: the claim's class, size and access modes, in Block mode unless told otherwise. */
export function primeClaim(
  namespace: string,
  claim: V1PersistentVolumeClaim,
  ref: ClaimRef,
  o: PrimeOptions = {},
): Json {
  const spec = claim.spec;
  const annotations = { ...o.annotations, ...(o.node === undefined ? {} : { [selectedNodeAnnotation]: o.node }) };
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: meta(primeName(ref.uid), namespace, ref, annotations),
    spec: {
      ...(spec?.storageClassName === undefined ? {} : { storageClassName: spec.storageClassName }),
      accessModes: spec?.accessModes ?? ["ReadWriteOnce"],
      volumeMode: o.volumeMode ?? "Block",
      resources: { requests: { storage: spec?.resources?.requests?.["storage"] ?? "0" } },
    },
  };
}

export interface PodParams {
  readonly namespace: string;
  readonly image: string;
  readonly source: DataPathSource;
  readonly node: string | undefined;
}

/**
 * The populator pod: restartPolicy Never (a failed run is looked at, reported and replaced by the controller, with
 * backoff), no service account token, root without capabilities (the device node is root's; nothing else is
 * needed), a read-only root filesystem and small fixed limits (the writer holds a few chunks, whatever the size).
 */
export function populatorPod(p: PodParams, ref: ClaimRef): Json {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: meta(podName(ref.uid), p.namespace, ref, { [sourceAnnotation]: sourceIdentity(p.source) }),
    spec: {
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      enableServiceLinks: false,
      ...(p.node === undefined ? {} : { nodeName: p.node }),
      securityContext: { runAsUser: 0, runAsGroup: 0, runAsNonRoot: false, seccompProfile: { type: "RuntimeDefault" } },
      containers: [
        {
          name: "populate",
          image: p.image,
          imagePullPolicy: "IfNotPresent",
          workingDir: "/app",
          args: [
            "dist/populator/cli.js",
            "--source",
            p.source.address,
            "--token-file",
            `${tokenDir}/${tokenKey}`,
            "--ca-file",
            `${tokenDir}/${caKey}`,
            "--target",
            devicePath,
          ],
          volumeDevices: [{ name: "target", devicePath }],
          volumeMounts: [{ name: "token", mountPath: tokenDir, readOnly: true }],
          securityContext: {
            allowPrivilegeEscalation: false,
            readOnlyRootFilesystem: true,
            capabilities: { drop: ["ALL"] },
          },
          resources: {
            requests: { cpu: "100m", memory: "64Mi" },
            limits: { memory: "256Mi" },
          },
          terminationMessagePolicy: "File",
        },
      ],
      volumes: [
        { name: "target", persistentVolumeClaim: { claimName: primeName(ref.uid) } },
        { name: "token", secret: { secretName: secretName(ref.uid), defaultMode: 0o400 } },
      ],
    },
  };
}

export interface FilesystemPvParams {
  readonly claim: ClaimRef;
  readonly block: V1PersistentVolume;
  readonly fsType: string;
  readonly reclaimPolicy: string;
  readonly mountOptions: readonly string[] | undefined;
  readonly populatedFrom: string;
}

/**
 * A Filesystem PV for the volume PVC′ was populated in (Block mode): the same CSI volume handle, bound ahead to the
 * claim. The volume holds the copy's own filesystem; the CSI driver's NodeStage mounts it as it is.
 */
export function filesystemPv(p: FilesystemPvParams): Json {
  const spec = p.block.spec;
  const csi = spec?.csi;
  if (spec === undefined || csi === undefined) throw new Error("the populated volume is not a CSI volume");
  return {
    apiVersion: "v1",
    kind: "PersistentVolume",
    metadata: {
      name: `pvc-${p.claim.uid}`,
      labels: { ...managedBy, [claimUidLabel]: p.claim.uid },
      annotations: {
        [provisionedByAnnotation]: csi.driver,
        [populatedFromAnnotation]: p.populatedFrom,
      },
    },
    spec: {
      capacity: spec.capacity ?? {},
      accessModes: spec.accessModes ?? ["ReadWriteOnce"],
      volumeMode: "Filesystem",
      persistentVolumeReclaimPolicy: p.reclaimPolicy,
      ...(spec.storageClassName === undefined ? {} : { storageClassName: spec.storageClassName }),
      ...(spec.nodeAffinity === undefined ? {} : { nodeAffinity: toJson("V1VolumeNodeAffinity", spec.nodeAffinity) }),
      ...(p.mountOptions === undefined ? {} : { mountOptions: [...p.mountOptions] }),
      csi: { ...toJson("V1CSIPersistentVolumeSource", csi), fsType: p.fsType },
      claimRef: {
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        namespace: p.claim.namespace,
        name: p.claim.name,
        uid: p.claim.uid,
      },
    },
  };
}
