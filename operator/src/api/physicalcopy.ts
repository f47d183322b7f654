// PhysicalCopy: a full block copy of a source volume onto a target (3PAR createvvcopy / WSAPI createPhysicalCopy;
// CIM ReplicaType FullCopy). An existing target makes an offline copy; `target.create` makes an online copy whose
// target the array creates. With saveSnapshot the copy stays associated (CopyType UnSyncAssoc) and can be
// resynchronised; without, it is UnSyncUnAssoc and the association ends when the copy completes.
import { z } from "zod";
import {
  copyClassName,
  arrayVolumeName,
  copyPriority,
  copyStatusFields,
  deletionPolicy,
  immutable,
  countSet,
  objectName,
  volumeSource,
  withRules,
} from "./common.ts";

export const physicalCopyTarget = withRules(
  z.object({
    persistentVolumeClaimName: objectName
      .optional()
      .describe("An existing PersistentVolumeClaim in the same namespace to copy onto (offline copy)."),
    volumeName: arrayVolumeName.optional().describe("An existing array volume to copy onto (offline copy)."),
    create: z
      .object({
        pool: z
          .string()
          .min(1)
          .max(31)
          .regex(/^[A-Za-z0-9_.-]+$/)
          .optional()
          .describe("The CPG (common provisioning group) the array creates the target in. Defaults to the class's."),
        provisioning: z
          .enum(["Thin", "Full", "Reduce"])
          .default("Thin")
          .describe("How the array provisions the target: Thin (TPVV), Full, or Reduce (dedup + compression)."),
      })
      .optional()
      .describe(
        "Let the array create the target (online copy): it is usable at once while data copies in the background.",
      ),
  }),
  {
    rule: "[has(self.persistentVolumeClaimName), has(self.volumeName), has(self.create)].filter(x, x).size() == 1",
    message: "exactly one of persistentVolumeClaimName, volumeName or create must be set",
    check: (v) => countSet(v.persistentVolumeClaimName, v.volumeName, v.create) === 1,
  },
  immutable("spec.target"),
);

export const physicalCopySpec = withRules(
  z.object({
    copyClassName,
    source: volumeSource(immutable("spec.source")).describe("The volume to copy from. Immutable."),
    target: physicalCopyTarget.describe(
      "The volume to copy onto: an existing one (offline) or one the array creates (online). Immutable.",
    ),
    saveSnapshot: z
      .boolean()
      .default(false)
      .meta({ "x-kubernetes-validations": [immutable("spec.saveSnapshot")] })
      .describe(
        "Keep a snapshot of the source taken at copy time, so the copy stays associated (CopyType UnSyncAssoc) and " +
          "a Resync CopyJob copies only the blocks changed since. Offline copies only. Immutable.",
      ),
    priority: copyPriority.optional(),
    deletionPolicy: deletionPolicy
      .optional()
      .describe(
        "What happens on the array when the resource is deleted: Delete halts a running copy and deletes the target " +
          "and the saved snapshot; Retain ends the association and keeps the target. Defaults to the class's.",
      ),
  }),
  {
    rule: "!(has(self.target.create) && self.saveSnapshot)",
    message: "saveSnapshot applies to offline copies only: it cannot be combined with target.create",
    fieldPath: ".saveSnapshot",
    check: (v) => !(v.target.create !== undefined && v.saveSnapshot),
  },
  {
    rule:
      "!(has(self.source.volumeName) && has(self.target.volumeName) && " +
      "self.source.volumeName == self.target.volumeName) && " +
      "!(has(self.source.persistentVolumeClaimName) && has(self.target.persistentVolumeClaimName) && " +
      "self.source.persistentVolumeClaimName == self.target.persistentVolumeClaimName)",
    message: "target is the source: a copy onto its own source would overwrite what it copies; name another volume",
    fieldPath: ".target",
    check: (v) =>
      !(v.source.volumeName !== undefined && v.source.volumeName === v.target.volumeName) &&
      !(
        v.source.persistentVolumeClaimName !== undefined &&
        v.source.persistentVolumeClaimName === v.target.persistentVolumeClaimName
      ),
  },
  {
    rule: "!(has(self.target.create) && has(self.priority))",
    message: "priority applies to offline copies only: it cannot be combined with target.create",
    fieldPath: ".priority",
    check: (v) => !(v.target.create !== undefined && v.priority !== undefined),
  },
  {
    rule:
      "has(self.copyClassName) == has(oldSelf.copyClassName) && (!has(self.copyClassName) || " +
      "self.copyClassName == oldSelf.copyClassName)",
    message: "copyClassName is immutable",
    fieldPath: ".copyClassName",
  },
).describe("The desired physical copy.");

export const physicalCopyStatus = z
  .object({
    ...copyStatusFields,
    targetVolume: arrayVolumeName.optional().describe("The array volume the copy is written to."),
    savedSnapshot: arrayVolumeName.optional().describe("The snapshot kept for resync (saveSnapshot), on the array."),
    percentSynced: z
      .number()
      .int()
      .min(0)
      .max(100)
      .optional()
      .describe("CIM PercentSynced: progress of the running copy."),
    currentJob: objectName.optional().describe("The CopyJob acting on this copy, while one runs."),
  })
  .describe("The observed state of the physical copy, in the array's CIM vocabulary.");

export const physicalCopy = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({}).loose().optional(),
  spec: physicalCopySpec,
  status: physicalCopyStatus.optional(),
});
export type PhysicalCopySpec = z.infer<typeof physicalCopySpec>;
export type PhysicalCopyStatus = z.infer<typeof physicalCopyStatus>;
