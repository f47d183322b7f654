// CustomResourceDefinitions built from the zod schemas: zod is the only source of the API. The spec and status
// schemas go through z.toJSONSchema (OpenAPI 3.0, input side: no additionalProperties:false, defaulted fields
// not required) and a small clean-up that keeps them structural; this file adds the CRD wrapper — names, scope,
// the status subresource, printer columns and the `arraycopy` category.
import { z } from "zod";
import { copyClassSpec, copyClassStatus } from "./copyclass.ts";
import { copyJobSpec, copyJobStatus } from "./copyjob.ts";
import { group, version, type CelRule } from "./common.ts";
import { copyScheduleSpec, copyScheduleStatus, scheduleNameRule } from "./copyschedule.ts";
import { physicalCopySpec, physicalCopyStatus } from "./physicalcopy.ts";
import { virtualCopySpec, virtualCopyStatus } from "./virtualcopy.ts";
import { virtualCopyGroupSpec, virtualCopyGroupStatus } from "./virtualcopygroup.ts";

export type JsonSchema = { [key: string]: unknown };

interface PrinterColumn {
  readonly name: string;
  readonly type: "string" | "integer" | "date" | "boolean" | "number";
  readonly jsonPath: string;
  readonly description: string;
  readonly priority?: number;
}

export interface KindDefinition {
  readonly kind: string;
  readonly plural: string;
  readonly singular: string;
  readonly shortNames: readonly string[];
  readonly scope: "Namespaced" | "Cluster";
  readonly description: string;
  readonly spec: z.ZodType;
  readonly status: z.ZodType;
  readonly columns: readonly PrinterColumn[];
  /** CEL rules on the whole object (the only place a rule can read metadata.name). */
  readonly rules?: readonly CelRule[];
}

const condition = (type: string) => `.status.conditions[?(@.type=="${type}")].status`;
const age: PrinterColumn = {
  name: "Age",
  type: "date",
  jsonPath: ".metadata.creationTimestamp",
  description: "Time since creation.",
};
const ready: PrinterColumn = {
  name: "Ready",
  type: "string",
  jsonPath: condition("Ready"),
  description: "Whether the copy exists and is usable.",
};
const syncState: PrinterColumn = {
  name: "SyncState",
  type: "string",
  jsonPath: ".status.syncState",
  description: "CIM SyncState.",
};
const copyType: PrinterColumn = {
  name: "CopyType",
  type: "string",
  jsonPath: ".status.copyType",
  description: "CIM CopyType.",
};
const sourceColumns: PrinterColumn[] = [
  {
    name: "SourcePVC",
    type: "string",
    jsonPath: ".spec.source.persistentVolumeClaimName",
    description: "Source claim.",
  },
  {
    name: "SourceVolume",
    type: "string",
    jsonPath: ".status.sourceVolume",
    description: "Source array volume.",
    priority: 1,
  },
];

export const kinds: readonly KindDefinition[] = [
  {
    kind: "CopyClass",
    plural: "copyclasses",
    singular: "copyclass",
    shortNames: ["cclass"],
    scope: "Cluster",
    description:
      "CopyClass names the array and driver copies use, with its parameters, credentials and default deletion policy.",
    spec: copyClassSpec,
    status: copyClassStatus,
    columns: [
      { name: "Driver", type: "string", jsonPath: ".spec.driver", description: "Engine driver." },
      {
        name: "DeletionPolicy",
        type: "string",
        jsonPath: ".spec.deletionPolicy",
        description: "Default deletion policy.",
      },
      {
        name: "Default",
        type: "string",
        jsonPath: ".metadata.annotations.arraycopy\\.io/is-default-class",
        description: "Whether this is the default class.",
      },
      age,
    ],
  },
  {
    kind: "VirtualCopy",
    plural: "virtualcopies",
    singular: "virtualcopy",
    shortNames: ["vcopy", "vcp"],
    scope: "Namespaced",
    description: "VirtualCopy is a copy-on-write snapshot of a volume on the array (CIM ReplicaType AfterDelta).",
    spec: virtualCopySpec,
    status: virtualCopyStatus,
    columns: [
      ...sourceColumns,
      syncState,
      copyType,
      {
        name: "ReplicaType",
        type: "string",
        jsonPath: ".status.replicaType",
        description: "CIM ReplicaType.",
        priority: 1,
      },
      {
        name: "WhenSynced",
        type: "date",
        jsonPath: ".status.whenSynced",
        description: "Point in time of the copy.",
        priority: 1,
      },
      {
        name: "ArrayName",
        type: "string",
        jsonPath: ".status.arrayName",
        description: "Name on the array.",
        priority: 1,
      },
      ready,
      age,
    ],
  },
  {
    kind: "VirtualCopyGroup",
    plural: "virtualcopygroups",
    singular: "virtualcopygroup",
    shortNames: ["vcgroup", "vcg"],
    scope: "Namespaced",
    description:
      "VirtualCopyGroup is a virtual copy of each of several volumes, all at one point in time (a volume-set " +
      "snapshot on the array).",
    spec: virtualCopyGroupSpec,
    status: virtualCopyGroupStatus,
    columns: [
      {
        name: "VolumeSet",
        type: "string",
        jsonPath: ".spec.members.volumeSet",
        description: "The array volume set copied, when named.",
        priority: 1,
      },
      { name: "Members", type: "integer", jsonPath: ".status.memberCount", description: "How many members." },
      {
        name: "ReadyMembers",
        type: "integer",
        jsonPath: ".status.readyMembers",
        description: "How many member copies are ready.",
      },
      {
        name: "WhenSynced",
        type: "date",
        jsonPath: ".status.whenSynced",
        description: "The group's point in time.",
        priority: 1,
      },
      {
        name: "Reason",
        type: "string",
        jsonPath: '.status.conditions[?(@.type=="Ready")].reason',
        description: "Why the group is or is not ready.",
      },
      { ...ready, description: "Whether every member's copy exists and is usable." },
      age,
    ],
  },
  {
    kind: "PhysicalCopy",
    plural: "physicalcopies",
    singular: "physicalcopy",
    shortNames: ["pcopy", "pcp"],
    scope: "Namespaced",
    description: "PhysicalCopy is a full block copy of a volume onto a target volume (CIM ReplicaType FullCopy).",
    spec: physicalCopySpec,
    status: physicalCopyStatus,
    columns: [
      ...sourceColumns,
      { name: "Target", type: "string", jsonPath: ".status.targetVolume", description: "Target array volume." },
      syncState,
      copyType,
      { name: "Progress", type: "integer", jsonPath: ".status.percentSynced", description: "CIM PercentSynced." },
      {
        name: "WhenSynced",
        type: "date",
        jsonPath: ".status.whenSynced",
        description: "Point in time of the copy.",
        priority: 1,
      },
      ready,
      age,
    ],
  },
  {
    kind: "CopyJob",
    plural: "copyjobs",
    singular: "copyjob",
    shortNames: ["cjob"],
    scope: "Namespaced",
    description: "CopyJob is one asynchronous array operation on a copy, modelled on CIM_ConcreteJob.",
    spec: copyJobSpec,
    status: copyJobStatus,
    columns: [
      { name: "Operation", type: "string", jsonPath: ".spec.operation", description: "The operation." },
      { name: "Copy", type: "string", jsonPath: ".spec.copyRef.name", description: "The copy acted on." },
      { name: "JobState", type: "string", jsonPath: ".status.jobState", description: "CIM JobState." },
      { name: "Progress", type: "integer", jsonPath: ".status.percentComplete", description: "CIM PercentComplete." },
      {
        name: "Succeeded",
        type: "string",
        jsonPath: condition("Succeeded"),
        description: "Whether the job succeeded.",
      },
      {
        name: "Error",
        type: "integer",
        jsonPath: ".status.errorCode",
        description: "The array's error code.",
        priority: 1,
      },
      age,
    ],
  },
  {
    kind: "CopySchedule",
    plural: "copyschedules",
    singular: "copyschedule",
    shortNames: ["csched"],
    scope: "Namespaced",
    description:
      "CopySchedule makes a VirtualCopy or a CopyJob on a cron schedule and prunes them by a retention that counts " +
      "only Ready copies.",
    spec: copyScheduleSpec,
    status: copyScheduleStatus,
    rules: [scheduleNameRule],
    columns: [
      { name: "Schedule", type: "string", jsonPath: ".spec.schedule", description: "The cron schedule." },
      {
        name: "TimeZone",
        type: "string",
        jsonPath: ".spec.timeZone",
        description: "The schedule's time zone.",
        priority: 1,
      },
      { name: "Suspend", type: "boolean", jsonPath: ".spec.suspend", description: "Whether runs are suspended." },
      { name: "Kept", type: "integer", jsonPath: ".status.counts.ready", description: "Ready copies held." },
      {
        name: "LastSchedule",
        type: "date",
        jsonPath: ".status.lastScheduleTime",
        description: "Time since the last run was due.",
      },
      {
        name: "Next",
        type: "date",
        jsonPath: ".status.nextScheduleTime",
        description: "When the next run is due.",
        priority: 1,
      },
      {
        name: "Ready",
        type: "string",
        jsonPath: condition("Ready"),
        description: "Whether the schedule runs and its last run succeeded.",
      },
      age,
    ],
  },
];

/** Removes what a structural CRD schema must not carry, recursively. */
export function structural(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(structural);
  if (node === null || typeof node !== "object") return node;
  const out: JsonSchema = {};
  const obj = node as JsonSchema;
  for (const [key, value] of Object.entries(obj)) {
    if (key === "$schema") continue;
    // `format: date-time` says all the long ISO pattern says, at a fraction of the validation cost.
    if (key === "pattern" && obj.format === "date-time") continue;
    if (key === "additionalProperties" && value === false) continue;
    // z.int() bounds at ±2^53−1 say nothing an int64 does not.
    if ((key === "maximum" || key === "minimum") && Math.abs(value as number) === Number.MAX_SAFE_INTEGER) continue;
    out[key] =
      key === "properties" || key === "items" || key === "additionalProperties"
        ? structuralChildren(key, value)
        : structural(value);
  }
  return out;
}

function structuralChildren(key: string, value: unknown): unknown {
  if (key !== "properties" || value === null || typeof value !== "object") return structural(value);
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, structural(v)]));
}

export function openApiSchema(schema: z.ZodType): JsonSchema {
  return structural(z.toJSONSchema(schema, { target: "openapi-3.0", io: "input" })) as JsonSchema;
}

export function crdFor(def: KindDefinition): JsonSchema {
  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata: { name: `${def.plural}.${group}`, labels: { "app.kubernetes.io/part-of": "arraycopy" } },
    spec: {
      group,
      names: {
        kind: def.kind,
        listKind: `${def.kind}List`,
        plural: def.plural,
        singular: def.singular,
        shortNames: [...def.shortNames],
        categories: ["arraycopy"],
      },
      scope: def.scope,
      versions: [
        {
          name: version,
          served: true,
          storage: true,
          subresources: { status: {} },
          additionalPrinterColumns: def.columns.map((c) => ({ ...c })),
          schema: {
            openAPIV3Schema: {
              type: "object",
              description: def.description,
              required: ["spec"],
              ...(def.rules === undefined ? {} : { "x-kubernetes-validations": def.rules.map((r) => ({ ...r })) }),
              properties: {
                apiVersion: { type: "string", description: "APIVersion of this object: arraycopy.io/v1alpha1." },
                kind: { type: "string", description: `Kind of this object: ${def.kind}.` },
                metadata: { type: "object" },
                spec: openApiSchema(def.spec),
                status: openApiSchema(def.status),
              },
            },
          },
        },
      ],
    },
  };
}

export const crds = (): JsonSchema[] => kinds.map(crdFor);
