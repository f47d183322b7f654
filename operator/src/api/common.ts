// Building blocks shared by every kind of arraycopy.io/v1alpha1: array names, hours, references, conditions and
// the CIM status vocabulary. Each constraint zod checks is also a CRD rule (a keyword or a CEL rule via .meta), so
// the apiserver refuses the same bad object the operator would.
import { z } from "zod";
import {
  copyPriorities,
  copyTypes,
  jobStates,
  names,
  operationalStatuses,
  replicaTypes,
  syncStates,
} from "../cim/values.ts";

export const group = "arraycopy.io";
export const version = "v1alpha1";
export const apiVersion = `${group}/${version}`;

/** CEL validation rules, as the CRD carries them (`x-kubernetes-validations`). */
export interface CelRule {
  readonly rule: string;
  readonly message: string;
  readonly fieldPath?: string;
  readonly reason?: "FieldValueInvalid" | "FieldValueForbidden" | "FieldValueRequired" | "FieldValueDuplicate";
}
export const cel = (...rules: CelRule[]) => ({ "x-kubernetes-validations": rules });

/** A CEL rule with, unless it is a transition rule (oldSelf), the same check in TypeScript for zod. */
export interface Rule<T> extends CelRule {
  readonly check?: (value: T) => boolean;
}

/**
 * Attaches rules to a schema once for both validators: the CEL text goes into the CRD, the check into zod, so
 * the apiserver and the operator refuse the same objects. (`.meta()` replaces earlier metadata: pass every rule
 * of a schema in one call.)
 */
export function withRules<S extends z.ZodType>(schema: S, ...rules: Rule<z.output<S>>[]): S {
  const checked = rules.filter((r) => r.check !== undefined);
  const refined =
    checked.length === 0
      ? schema
      : schema.superRefine((value, ctx) => {
          for (const r of checked) {
            if (r.check?.(value) === false) {
              ctx.addIssue({ code: "custom", message: r.message, path: r.fieldPath?.slice(1).split(".") ?? [] });
            }
          }
        });
  return refined.meta(cel(...rules.map(({ check: _check, ...celRule }) => celRule)));
}

const has = (v: unknown): boolean => v !== undefined;
/** How many of the values are set. */
export const countSet = (...values: unknown[]): number => values.filter(has).length;

/** An immutable field: changing it after creation is refused. */
export const immutable = (field: string): CelRule => ({ rule: "self == oldSelf", message: `${field} is immutable` });

/**
 * A name the array can hold: 3PAR/Primera volume names are 1–31 characters of letters, digits, `.`, `-` and `_`
 * (WSAPI errors 57 INV_INPUT_EXCEEDS_LENGTH and 69 INV_INPUT_ILLEGAL_CHAR otherwise).
 */
export const arrayVolumeName = z
  .string()
  .min(1)
  .max(31)
  .regex(/^[A-Za-z0-9_.-]+$/)
  .describe("Name of a volume on the array: 1 to 31 characters of letters, digits, '.', '-' and '_'.");

/** A Kubernetes object name (DNS-1123 subdomain). */
export const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/);

/** Array-native time spans: 1 to 43,800 hours (five years), relative to the copy's creation. */
export const hours = z.number().int().min(1).max(43_800);

/**
 * The rules of a virtual copy's (or a group's) lifetime on the array: retention within expiration; on the object
 * itself (`transitions`, not on a schedule's template) retention only raised and the class fixed.
 */
export function lifetimeRules(
  transitions: boolean,
): Rule<{ retentionHours?: number | undefined; expirationHours?: number | undefined }>[] {
  const within: Rule<{ retentionHours?: number | undefined; expirationHours?: number | undefined }> = {
    rule: "!has(self.retentionHours) || !has(self.expirationHours) || self.retentionHours <= self.expirationHours",
    message: "retentionHours must not exceed expirationHours",
    fieldPath: ".retentionHours",
    check: (v) =>
      v.retentionHours === undefined || v.expirationHours === undefined || v.retentionHours <= v.expirationHours,
  };
  if (!transitions) return [within];
  return [
    within,
    {
      rule:
        "!has(oldSelf.retentionHours) || " +
        "(has(self.retentionHours) && self.retentionHours >= oldSelf.retentionHours)",
      message: "retentionHours can be raised but never lowered or removed",
      fieldPath: ".retentionHours",
    },
    {
      rule:
        "has(self.copyClassName) == has(oldSelf.copyClassName) && (!has(self.copyClassName) || " +
        "self.copyClassName == oldSelf.copyClassName)",
      message: "copyClassName is immutable",
      fieldPath: ".copyClassName",
    },
  ];
}

export const deletionPolicy = z
  .enum(["Delete", "Retain"])
  .describe(
    "What happens to the array object when the resource is deleted: Delete removes it from the array, Retain " +
      "keeps it. Defaults to the CopyClass's deletionPolicy.",
  );

/** A copy's class: optional, the default class standing in. */
export const copyClassName = objectName
  .optional()
  .describe("The CopyClass naming the array and driver. Omit to use the class marked default.");

/** How a copy's lifetime fields name it: "the virtual copy is" read-only; the array deletes "the copy". */
export interface LifetimeWords {
  readonly isReadOnly: string;
  readonly copies: string;
  /** Added to retention's bounds ("; needs a license"). */
  readonly retentionNote?: string;
}

/** The fields of a virtual copy's (or a group's) life on the array: access mode, expiration, retention, deletion. */
export function lifetimeFields(words: LifetimeWords, transitions: boolean) {
  const readOnly = z.boolean().default(true);
  return {
    readOnly: (transitions ? readOnly.meta(cel(immutable("spec.readOnly"))) : readOnly).describe(
      `Whether ${words.isReadOnly} read-only on the array. Defaults to true.${transitions ? " Immutable." : ""}`,
    ),
    expirationHours: hours
      .optional()
      .describe(`Hours after creation when the array deletes ${words.copies} by itself (1 to 43800).`),
    retentionHours: hours
      .optional()
      .describe(
        `Hours after creation during which the array refuses to delete ${words.copies} (1 to 43800, at most ` +
          `expirationHours${words.retentionNote ?? ""}).` +
          (transitions ? " Can be raised, never lowered or removed." : ""),
      ),
    deletionPolicy: deletionPolicy.optional(),
  };
}

export const copyPriority = z
  .enum(["High", "Medium", "Low"])
  .describe("Priority of the copy task on the array (WSAPI taskPriority 1 HIGH, 2 MED, 3 LOW).");

/**
 * A volume to copy from: a PersistentVolumeClaim in the same namespace, or an array volume by name. `.meta()`
 * replaces earlier metadata, so every rule of the object is passed in one call here.
 */
export const volumeSource = (...rules: CelRule[]) =>
  withRules(
    z.object({
      persistentVolumeClaimName: objectName
        .optional()
        .describe(
          "A PersistentVolumeClaim in the same namespace; its bound PersistentVolume's CSI volumeHandle names the " +
            "array volume.",
        ),
      volumeName: arrayVolumeName
        .optional()
        .describe("An array volume (base volume or snapshot), by its name on the array."),
    }),
    {
      rule: "has(self.persistentVolumeClaimName) != has(self.volumeName)",
      message: "exactly one of persistentVolumeClaimName or volumeName must be set",
      check: (v) => countSet(v.persistentVolumeClaimName, v.volumeName) === 1,
    },
    ...rules,
  );

/** metav1.Condition, with the apiserver's own limits on each field. */
/** metav1.Condition's type: an optional DNS-subdomain prefix and a slash, then a name (apimachinery's pattern). */
const qualifiedPrefix = String.raw`([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?`;
const conditionName = String.raw`(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])`;

export const condition = z.object({
  type: z
    .string()
    .max(316)
    .regex(new RegExp(`^${qualifiedPrefix}${conditionName}$`))
    .describe("Type of condition in CamelCase: Ready, Succeeded, Reconciling or Stalled."),
  status: z.enum(["True", "False", "Unknown"]).describe("Status of the condition: True, False or Unknown."),
  observedGeneration: z
    .number()
    .int()
    .min(0)
    .optional()
    .describe("The .metadata.generation the condition was computed from; older means the condition is stale."),
  lastTransitionTime: z.iso.datetime().describe("Last time the condition changed from one status to another."),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe("A CamelCase reason for the condition's last transition, from a closed set documented per kind."),
  message: z.string().max(32_768).describe("A human readable message with details about the transition."),
});
export type Condition = z.infer<typeof condition>;

export const conditions = z
  .array(condition)
  .max(16)
  .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["type"] })
  .describe("Standard conditions (kstatus): observe Ready on copies and Succeeded on jobs.");

export const timestamp = z.iso.datetime();

// The CIM value sets, by name.
export const copyType = z.enum(names(copyTypes)).describe("CIM_StorageSynchronized.CopyType.");
export const replicaType = z.enum(names(replicaTypes)).describe("CIM_StorageSynchronized.ReplicaType.");
export const syncState = z.enum(names(syncStates)).describe("CIM_StorageSynchronized.SyncState.");
export const jobState = z.enum(names(jobStates)).describe("CIM_ConcreteJob.JobState.");
export const operationalStatus = z.enum(names(operationalStatuses));
export const cimCopyPriority = z.enum(names(copyPriorities));

/** Status fields common to both copy kinds: the CIM StorageSynchronized view of the copy. */
export const copyStatusFields = {
  observedGeneration: z.number().int().min(0).optional().describe("The .metadata.generation last acted on."),
  conditions: conditions.optional(),
  copyClassName: objectName
    .optional()
    .describe("The CopyClass this copy was made with (the default class if spec named none)."),
  sourceVolume: arrayVolumeName.optional().describe("The array volume the copy was taken from."),
  copyType: copyType
    .optional()
    .describe(
      "CIM CopyType: UnSyncAssoc (associated with its source, can be resynchronised or restored) or UnSyncUnAssoc.",
    ),
  replicaType: replicaType
    .optional()
    .describe("CIM ReplicaType: AfterDelta for a virtual copy (copy-on-write), FullCopy for a physical copy."),
  syncState: syncState
    .optional()
    .describe(
      "CIM SyncState of the copy as the array reports it: Initialized (queued), ResyncInProgress, CopyInProgress, " +
        "RestoreInProgress, Idle (a virtual copy at rest), Frozen (a physical copy at rest) or Broken.",
    ),
  syncMaintained: z.boolean().optional().describe("CIM SyncMaintained: always false for local copies."),
  whenSynced: timestamp.optional().describe("CIM WhenSynced: the point in time the copy holds."),
  creationTime: timestamp.optional().describe("When the copy was created on the array."),
  sizeBytes: z.number().int().min(0).optional().describe("Size of the copy in bytes."),
  volumeClaims: z
    .array(
      z.object({
        name: objectName.describe("A PersistentVolumeClaim of this namespace whose dataSourceRef names this copy."),
        phase: z
          .enum(["Pending", "Populating", "Populated"])
          .describe(
            "Pending: not started (see the PVC's events for why); Populating: its volume is being written; " +
              "Populated: the PVC is Bound to a volume holding this copy's bytes.",
          ),
        volumeName: z.string().max(253).optional().describe("The PV the PVC is bound to, once Populated."),
      }),
    )
    .max(256)
    .meta({ "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"] })
    .optional()
    .describe("The PVCs made (or being made) from this copy, written by the operator's populator."),
  lastError: z
    .object({
      code: z.number().int().optional().describe("The array's error code."),
      message: z.string().max(4096).describe("The array's or the operator's description of the error."),
      time: timestamp,
    })
    .optional()
    .describe("The last error met while reconciling, cleared when the copy is healthy."),
};
