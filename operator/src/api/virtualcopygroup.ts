// VirtualCopyGroup: virtual copies of several volumes at one point in time (an array volume-set snapshot; one
// catalog commit on the embedded engine). A kind of its own rather than a `source.group` of VirtualCopy: a group
// has many array objects and a status per member, its Ready means "every member", and its members are resolved
// once (a selector's claims at creation) — none of which fits a VirtualCopy's one-copy status. Members, class and
// access mode are fixed at creation; expiration can be changed and retention raised, as on a VirtualCopy.
import { z } from "zod";
import {
  copyClassName,
  arrayVolumeName,
  conditions,
  copyStatusFields,
  countSet,
  lifetimeFields,
  lifetimeRules,
  objectName,
  syncState,
  timestamp,
  withRules,
} from "./common.ts";

/** The most members a group takes (the engine port's maxGroupMembers: names keep two digits of index). */
export const maxMembers = 64;

const unique = (values: readonly string[] | undefined): boolean =>
  values === undefined || new Set(values).size === values.length;

const labelSelector = withRules(
  z.object({
    matchLabels: z
      .record(z.string(), z.string().describe("A label's value."))
      .optional()
      .describe("Claims whose labels hold every one of these pairs."),
    matchExpressions: z
      .array(
        z.object({
          key: z.string().min(1).max(316).describe("The label's key."),
          operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]).describe("How the key's value is matched."),
          values: z.array(z.string().max(63)).max(64).optional().describe("The values, for In and NotIn."),
        }),
      )
      .max(16)
      .optional()
      .describe("Label expressions every claim must satisfy."),
  }),
  {
    rule:
      "(has(self.matchLabels) && size(self.matchLabels) > 0) || " +
      "(has(self.matchExpressions) && size(self.matchExpressions) > 0)",
    message: "selector needs matchLabels or matchExpressions: an empty selector would select every claim",
    check: (v) => Object.keys(v.matchLabels ?? {}).length > 0 || (v.matchExpressions ?? []).length > 0,
  },
);
export type LabelSelector = z.infer<typeof labelSelector>;

/**
 * The members, and the group spec around them; without `transitions` (a CopySchedule's template, copied into each
 * group it makes) there are no rules on updates, as a template may be edited freely: only the groups it made are
 * immutable.
 */
function membersOf(transitions: boolean) {
  return withRules(
    z.object({
      selector: labelSelector
        .optional()
        .describe(
          "PersistentVolumeClaims of the group's namespace matching this label selector, resolved once, when the " +
            "copies are made.",
        ),
      pvcs: z
        .array(objectName)
        .min(1)
        .max(maxMembers)
        .refine(unique, "a claim is named twice")
        .meta({ "x-kubernetes-list-type": "set" })
        .optional()
        .describe("PersistentVolumeClaims of the group's namespace, by name."),
      volumes: z
        .array(arrayVolumeName)
        .min(1)
        .max(maxMembers)
        .refine(unique, "a volume is named twice")
        .meta({ "x-kubernetes-list-type": "set" })
        .optional()
        .describe("Array volumes, by name."),
      volumeSet: arrayVolumeName.optional().describe("An array volume set (3PAR vvset): every volume in it."),
    }),
    {
      rule:
        "[has(self.selector), has(self.pvcs), has(self.volumes), has(self.volumeSet)]" + ".filter(x, x).size() == 1",
      message: "exactly one of selector, pvcs, volumes or volumeSet must be set",
      check: (v) => countSet(v.selector, v.pvcs, v.volumes, v.volumeSet) === 1,
    },
    ...(transitions ? [{ rule: "self == oldSelf", message: "spec.members is immutable" }] : []),
  );
}

function virtualCopyGroupSpecOf(transitions: boolean) {
  const fixed = transitions ? " Immutable." : "";
  return withRules(
    z.object({
      copyClassName,
      members: membersOf(transitions).describe(
        `The volumes copied together, at most ${maxMembers}: exactly one way of naming them.${fixed}`,
      ),
      ...lifetimeFields({ isReadOnly: "the member copies are", copies: "the member copies" }, transitions),
    }),
    ...lifetimeRules(transitions),
  );
}

export const virtualCopyGroupSpec = virtualCopyGroupSpecOf(true).describe(
  "The desired group of virtual copies, taken at one point in time.",
);
/** What a CopySchedule makes a VirtualCopyGroup of each time: the same fields, with no rules on updates. */
export const virtualCopyGroupTemplateSpec = virtualCopyGroupSpecOf(false).describe(
  "The spec of each VirtualCopyGroup the schedule makes.",
);

export const groupMemberStatus = z.object({
  arrayName: arrayVolumeName.describe("Name of the member's virtual copy on the array."),
  sourceVolume: arrayVolumeName.describe("The array volume the member's copy was taken of."),
  persistentVolumeClaimName: objectName.optional().describe("The claim the source volume was resolved from."),
  syncState: syncState.optional().describe("CIM SyncState of the member's copy (Idle at rest, Broken)."),
  ready: z.boolean().describe("Whether the member's copy exists and is usable."),
});

export const virtualCopyGroupStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional().describe("The .metadata.generation last acted on."),
    conditions: conditions.optional(),
    copyClassName: objectName.optional().describe("The CopyClass the group was made with."),
    namePrefix: z
      .string()
      .max(29)
      .optional()
      .describe("The member copies' names on the array are this prefix and the member's index (from the UID)."),
    volumeSet: arrayVolumeName.optional().describe("The array volume set snapshotted, when spec named one."),
    members: z
      .array(groupMemberStatus)
      .max(maxMembers)
      .optional()
      .describe("Each member's copy, in the array's member order."),
    memberCount: z.number().int().min(0).optional().describe("How many members the group has."),
    readyMembers: z.number().int().min(0).optional().describe("How many member copies are ready."),
    whenSynced: timestamp.optional().describe("CIM WhenSynced: the one point in time every member holds."),
    creationTime: timestamp.optional().describe("When the member copies were created on the array."),
    expirationTime: timestamp.optional().describe("When the array deletes the member copies by itself."),
    retentionTime: timestamp.optional().describe("Until when the array refuses to delete the member copies."),
    lastError: copyStatusFields.lastError,
  })
  .describe("The observed state of the group and of each member's copy.");

export type VirtualCopyGroupSpec = z.infer<typeof virtualCopyGroupSpec>;
export type VirtualCopyGroupStatus = z.infer<typeof virtualCopyGroupStatus>;
export type GroupMemberStatus = z.infer<typeof groupMemberStatus>;
