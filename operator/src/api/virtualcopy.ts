// VirtualCopy: a copy-on-write snapshot of a volume on the array (3PAR createsv / WSAPI createSnapshot; CIM
// CopyType UnSyncAssoc, ReplicaType AfterDelta). Source, class and access mode are fixed at creation; expiration
// can be changed and retention raised but never lowered or removed, as on the array.
import { z } from "zod";
import {
  copyClassName,
  arrayVolumeName,
  copyStatusFields,
  immutable,
  lifetimeFields,
  lifetimeRules,
  objectName,
  timestamp,
  volumeSource,
  withRules,
} from "./common.ts";

/**
 * The VirtualCopy spec; without `transitions` (a CopySchedule's template, copied into each copy it makes) it has
 * no rules on updates, as a template may be edited freely: only the copies it made are immutable.
 */
function virtualCopySpecOf(transitions: boolean) {
  const onUpdate = (field: string) => (transitions ? [immutable(field)] : []);
  const fixed = transitions ? " Immutable." : "";
  return withRules(
    z.object({
      copyClassName,
      source: volumeSource(...onUpdate("spec.source")).describe(`The volume to snapshot.${fixed}`),
      ...lifetimeFields(
        {
          isReadOnly: "the virtual copy is",
          copies: "the copy",
          retentionNote: "; needs the Virtual Lock license on a real array",
        },
        transitions,
      ),
    }),
    ...lifetimeRules(transitions),
  );
}

export const virtualCopySpec = virtualCopySpecOf(true).describe("The desired virtual copy.");
/** What a CopySchedule makes a VirtualCopy of each time: the same fields, with no rules on updates. */
export const virtualCopyTemplateSpec = virtualCopySpecOf(false).describe(
  "The spec of each VirtualCopy the schedule makes.",
);

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
