// VirtualCopy: a copy-on-write snapshot of a volume on the array (3PAR createsv / WSAPI createSnapshot; CIM
// CopyType UnSyncAssoc, ReplicaType AfterDelta). Source, class and access mode are fixed at creation; expiration
// can be changed and retention raised but never lowered or removed, as on the array.
import { z } from "zod";
import {
  arrayVolumeName,
  cel,
  copyStatusFields,
  deletionPolicy,
  hours,
  immutable,
  objectName,
  timestamp,
  volumeSource,
  withRules,
} from "./common.ts";

export const virtualCopySpec = withRules(
  z.object({
    copyClassName: objectName
      .optional()
      .describe("The CopyClass naming the array and driver. Omit to use the class marked default."),
    source: volumeSource(immutable("spec.source")).describe("The volume to snapshot. Immutable."),
    readOnly: z
      .boolean()
      .default(true)
      .meta(cel(immutable("spec.readOnly")))
      .describe("Whether the virtual copy is read-only on the array. Defaults to true. Immutable."),
    expirationHours: hours
      .optional()
      .describe("Hours after creation when the array deletes the copy by itself (1 to 43800)."),
    retentionHours: hours
      .optional()
      .describe(
        "Hours after creation during which the array refuses to delete the copy (1 to 43800, at most " +
          "expirationHours; needs the Virtual Lock license on a real array). Can be raised, never lowered or removed.",
      ),
    deletionPolicy: deletionPolicy.optional(),
  }),
  {
    rule: "!has(self.retentionHours) || !has(self.expirationHours) || self.retentionHours <= self.expirationHours",
    message: "retentionHours must not exceed expirationHours",
    fieldPath: ".retentionHours",
    check: (v) =>
      v.retentionHours === undefined || v.expirationHours === undefined || v.retentionHours <= v.expirationHours,
  },
  {
    rule: "!has(oldSelf.retentionHours) || (has(self.retentionHours) && self.retentionHours >= oldSelf.retentionHours)",
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
).describe("The desired virtual copy.");

export const virtualCopyStatus = z
  .object({
    ...copyStatusFields,
    arrayName: arrayVolumeName.optional().describe("Name of the virtual copy on the array, derived from the UID."),
    readOnly: z.boolean().optional().describe("Whether the copy is read-only on the array."),
    expirationTime: timestamp.optional().describe("When the array deletes the copy by itself."),
    retentionTime: timestamp.optional().describe("Until when the array refuses to delete the copy."),
    restoreJob: objectName.optional().describe("The CopyJob restoring this copy onto its base, while one runs."),
  })
  .describe("The observed state of the virtual copy, in the array's CIM vocabulary.");

export const virtualCopy = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({}).loose().optional(),
  spec: virtualCopySpec,
  status: virtualCopyStatus.optional(),
});
export type VirtualCopySpec = z.infer<typeof virtualCopySpec>;
export type VirtualCopyStatus = z.infer<typeof virtualCopyStatus>;
