// The corpus of invalid objects: each case is refused by the apiserver with a message naming `field`, and — when
// it is a create (not a transition) and not a pruning matter — by the zod schemas too, so the operator and the
// apiserver agree on what is valid. Builders with modifiers keep each case to the one thing it breaks.
type Spec = Record<string, unknown>;
type Mod = (spec: Spec) => void;

export interface InvalidCase {
  readonly name: string;
  /** Why this case matters: the mistake a user makes, or the array rule it guards. */
  readonly why: string;
  readonly kind: "VirtualCopy" | "VirtualCopyGroup" | "PhysicalCopy" | "CopyJob" | "CopyClass" | "CopySchedule";
  /** The object's name, when the case is about it (default: a random valid one). */
  readonly metadataName?: string;
  /** The valid object created first, for transition (update) cases; the invalid one otherwise. */
  readonly spec: Spec;
  /** The refused update, for immutability and transition rules. */
  readonly update?: Spec;
  /** The field path the apiserver's message must name. */
  readonly field: string;
  /** Words the apiserver's refusal must hold, when the case is about its message. */
  readonly message?: string;
  /** Whether zod refuses it too (false for updates and for unknown fields, which zod strips). */
  readonly zod: boolean;
}

const build = (base: Spec, mods: Mod[]): Spec => {
  const spec = structuredClone(base);
  for (const m of mods) m(spec);
  return spec;
};

export const vcSpec = (...mods: Mod[]) => build({ source: { volumeName: "db-data" } }, mods);
export const pcSpec = (...mods: Mod[]) =>
  build({ source: { volumeName: "db-data" }, target: { volumeName: "db-test" } }, mods);
export const jobSpec = (...mods: Mod[]) =>
  build({ copyRef: { kind: "PhysicalCopy", name: "db-test-copy" }, operation: "Resync" }, mods);
export const groupSpec = (...mods: Mod[]) => build({ members: { volumes: ["db-data", "db-wal"] } }, mods);
export const classSpec = (...mods: Mod[]) => build({ driver: "embedded" }, mods);
export const scheduleSpec = (...mods: Mod[]) =>
  build({ schedule: "0 2 * * *", virtualCopyTemplate: { spec: { source: { volumeName: "db-data" } } } }, mods);

const set =
  (path: string, value: unknown): Mod =>
  (spec) => {
    const keys = path.split(".");
    const last = keys.pop() ?? "";
    let node: Record<string, unknown> = spec;
    for (const k of keys) {
      node[k] ??= {};
      node = node[k] as Record<string, unknown>;
    }
    if (value === undefined) Reflect.deleteProperty(node, last);
    else node[last] = value;
  };
const unset = (path: string): Mod => set(path, undefined);

const wsapi = {
  endpoint: "https://array1.example.com:8080/api/v1",
  credentialsSecretRef: { name: "creds", namespace: "ops" },
  cpg: "SSD_r6",
};

export const invalidCases: readonly InvalidCase[] = [
  // VirtualCopy: creation
  {
    name: "virtual copy with two sources",
    why: "a snapshot has exactly one source",
    kind: "VirtualCopy",
    spec: vcSpec(set("source.persistentVolumeClaimName", "db")),
    field: "spec.source",
    zod: true,
  },
  {
    name: "virtual copy with no source",
    why: "an empty source object must not pass as a source",
    kind: "VirtualCopy",
    spec: vcSpec(unset("source.volumeName")),
    field: "spec.source",
    zod: true,
  },
  {
    name: "virtual copy without source",
    why: "source is required",
    kind: "VirtualCopy",
    spec: vcSpec(unset("source")),
    field: "spec.source",
    zod: true,
  },
  {
    name: "unknown deletion policy",
    why: "a typo must not silently mean Delete",
    kind: "VirtualCopy",
    spec: vcSpec(set("deletionPolicy", "Keep")),
    field: "spec.deletionPolicy",
    zod: true,
  },
  {
    name: "expiration of zero hours",
    why: "the array takes 1 to 43800 hours",
    kind: "VirtualCopy",
    spec: vcSpec(set("expirationHours", 0)),
    field: "spec.expirationHours",
    zod: true,
  },
  {
    name: "expiration over five years",
    why: "the array takes 1 to 43800 hours",
    kind: "VirtualCopy",
    spec: vcSpec(set("expirationHours", 43_801)),
    field: "spec.expirationHours",
    zod: true,
  },
  {
    name: "retention over five years",
    why: "the array takes 1 to 43800 hours",
    kind: "VirtualCopy",
    spec: vcSpec(set("retentionHours", 50_000)),
    field: "spec.retentionHours",
    zod: true,
  },
  {
    name: "retention longer than expiration",
    why: "the array refuses it (INV_INPUT_RETAIN_GT_EXPIRE)",
    kind: "VirtualCopy",
    spec: vcSpec(set("expirationHours", 24), set("retentionHours", 48)),
    field: "spec.retentionHours",
    zod: true,
  },
  {
    name: "expiration as a string",
    why: "hours are integers, not quoted text",
    kind: "VirtualCopy",
    spec: vcSpec(set("expirationHours", "24")),
    field: "spec.expirationHours",
    zod: true,
  },
  {
    name: "array name over 31 characters",
    why: "the array cannot hold it (INV_INPUT_EXCEEDS_LENGTH, 57)",
    kind: "VirtualCopy",
    spec: vcSpec(set("source.volumeName", "a".repeat(32))),
    field: "spec.source.volumeName",
    zod: true,
  },
  {
    name: "array name with a slash",
    why: "the array cannot hold it (INV_INPUT_ILLEGAL_CHAR, 69)",
    kind: "VirtualCopy",
    spec: vcSpec(set("source.volumeName", "db/data")),
    field: "spec.source.volumeName",
    zod: true,
  },
  {
    name: "claim name not a DNS name",
    why: "no PVC can have that name",
    kind: "VirtualCopy",
    spec: vcSpec(unset("source.volumeName"), set("source.persistentVolumeClaimName", "Bad_Name")),
    field: "spec.source.persistentVolumeClaimName",
    zod: true,
  },
  {
    name: "class name not a DNS name",
    why: "no CopyClass can have that name",
    kind: "VirtualCopy",
    spec: vcSpec(set("copyClassName", "Fast Array")),
    field: "spec.copyClassName",
    zod: true,
  },
  {
    name: "unknown field",
    why: "a misspelt field must not be silently dropped",
    kind: "VirtualCopy",
    spec: vcSpec(set("expirationHour", 24)),
    field: "spec.expirationHour",
    zod: false,
  },
  // VirtualCopy: transitions
  {
    name: "changed source",
    why: "a copy's source is fixed at creation",
    kind: "VirtualCopy",
    spec: vcSpec(),
    update: vcSpec(set("source.volumeName", "other")),
    field: "spec.source",
    zod: false,
  },
  {
    name: "lowered retention",
    why: "retention can be raised, never lowered (array rule)",
    kind: "VirtualCopy",
    spec: vcSpec(set("retentionHours", 48)),
    update: vcSpec(set("retentionHours", 24)),
    field: "spec.retentionHours",
    zod: false,
  },
  {
    name: "removed retention",
    why: "retention can never be removed (array rule)",
    kind: "VirtualCopy",
    spec: vcSpec(set("retentionHours", 48)),
    update: vcSpec(),
    field: "spec.retentionHours",
    zod: false,
  },
  {
    name: "changed read-only",
    why: "the access mode is fixed at creation",
    kind: "VirtualCopy",
    spec: vcSpec(),
    update: vcSpec(set("readOnly", false)),
    field: "spec.readOnly",
    zod: false,
  },
  {
    name: "class set after creation",
    why: "moving a copy to another array is not a field change",
    kind: "VirtualCopy",
    spec: vcSpec(),
    update: vcSpec(set("copyClassName", "other")),
    field: "spec.copyClassName",
    zod: false,
  },
  // PhysicalCopy
  {
    name: "physical copy with two targets",
    why: "a copy writes one target",
    kind: "PhysicalCopy",
    spec: pcSpec(set("target.create", {})),
    field: "spec.target",
    zod: true,
  },
  {
    name: "physical copy with no target",
    why: "an empty target must not pass",
    kind: "PhysicalCopy",
    spec: pcSpec(unset("target.volumeName")),
    field: "spec.target",
    zod: true,
  },
  {
    name: "online copy with saveSnapshot",
    why: "the array keeps no resync snapshot for online copies",
    kind: "PhysicalCopy",
    spec: pcSpec(unset("target.volumeName"), set("target.create", {}), set("saveSnapshot", true)),
    field: "spec.saveSnapshot",
    zod: true,
  },
  {
    name: "online copy with priority",
    why: "the array takes no priority for online copies",
    kind: "PhysicalCopy",
    spec: pcSpec(unset("target.volumeName"), set("target.create", {}), set("priority", "High")),
    field: "spec.priority",
    zod: true,
  },
  {
    name: "unknown priority",
    why: "the array has High, Medium and Low only (INV_INPUT_BAD_ENUM_VALUE)",
    kind: "PhysicalCopy",
    spec: pcSpec(set("priority", "Urgent")),
    field: "spec.priority",
    zod: true,
  },
  {
    name: "pool name over 31 characters",
    why: "a CPG name is an array name",
    kind: "PhysicalCopy",
    spec: pcSpec(unset("target.volumeName"), set("target.create", { pool: "p".repeat(40) })),
    field: "spec.target.create.pool",
    zod: true,
  },
  {
    name: "unknown provisioning",
    why: "Thin, Full or Reduce only",
    kind: "PhysicalCopy",
    spec: pcSpec(unset("target.volumeName"), set("target.create", { provisioning: "Dedup" })),
    field: "spec.target.create.provisioning",
    zod: true,
  },
  {
    name: "changed target",
    why: "a copy's target is fixed at creation",
    kind: "PhysicalCopy",
    spec: pcSpec(),
    update: pcSpec(set("target.volumeName", "other")),
    field: "spec.target",
    zod: false,
  },
  {
    name: "target is the source volume",
    why: "a copy onto its own source would overwrite what it copies",
    kind: "PhysicalCopy",
    spec: pcSpec(set("target", { volumeName: "db" }), set("source", { volumeName: "db" })),
    field: "spec.target",
    zod: true,
  },
  {
    name: "target claim is the source claim",
    why: "a copy onto its own source would overwrite what it copies",
    kind: "PhysicalCopy",
    spec: pcSpec(
      set("source", { persistentVolumeClaimName: "db" }),
      set("target", { persistentVolumeClaimName: "db" }),
    ),
    field: "spec.target",
    zod: true,
  },
  {
    name: "changed saveSnapshot",
    why: "the association is fixed at creation",
    kind: "PhysicalCopy",
    spec: pcSpec(),
    update: pcSpec(set("saveSnapshot", true)),
    field: "spec.saveSnapshot",
    zod: false,
  },
  // CopyJob
  {
    name: "unknown operation",
    why: "only the array's copy operations exist",
    kind: "CopyJob",
    spec: jobSpec(set("operation", "Promote")),
    field: "spec.operation",
    zod: true,
  },
  {
    name: "restore of a physical copy",
    why: "Restore promotes a virtual copy; a physical copy detaches",
    kind: "CopyJob",
    spec: jobSpec(set("operation", "Restore")),
    field: "spec.operation",
    zod: true,
  },
  {
    name: "resync of a virtual copy",
    why: "only physical copies resynchronise",
    kind: "CopyJob",
    spec: jobSpec(set("copyRef.kind", "VirtualCopy")),
    field: "spec.operation",
    zod: true,
  },
  {
    name: "resync of a VirtualCopyGroup",
    why: "a group's members are virtual copies; a group Resync would need a group of PhysicalCopies, which is no kind",
    kind: "CopyJob",
    spec: jobSpec(set("copyRef.kind", "VirtualCopyGroup")),
    field: "spec.operation",
    message: "a group Resync would need a group of PhysicalCopies, which does not exist",
    zod: true,
  },
  {
    name: "scheduled Detach of a VirtualCopyGroup",
    why: "Restore is all a job can do to a group, in a template as in a job",
    kind: "CopySchedule",
    spec: scheduleSpec(
      unset("virtualCopyTemplate"),
      set("copyJobTemplate", { spec: { copyRef: { kind: "VirtualCopyGroup", name: "g" }, operation: "Detach" } }),
    ),
    field: "spec.copyJobTemplate.spec.operation",
    message: "Restore is the only operation on a VirtualCopyGroup",
    zod: true,
  },
  {
    name: "unknown copy kind",
    why: "a job acts on VirtualCopy, PhysicalCopy or VirtualCopyGroup",
    kind: "CopyJob",
    spec: jobSpec(set("copyRef.kind", "Volume")),
    field: "spec.copyRef.kind",
    zod: true,
  },
  {
    name: "priority on detach",
    why: "detach is synchronous on the array: no task to prioritise",
    kind: "CopyJob",
    spec: jobSpec(set("operation", "Detach"), set("priority", "High")),
    field: "spec.priority",
    zod: true,
  },
  {
    name: "copy job without volumes",
    why: "the initial copy is told which array volumes to copy, in its own spec",
    kind: "CopyJob",
    spec: jobSpec(set("operation", "Copy")),
    field: "spec.volumes",
    zod: true,
  },
  {
    name: "volumes on a resync",
    why: "a resync acts on the copy's own volumes; only a Copy job names them",
    kind: "CopyJob",
    spec: jobSpec(set("volumes", { source: "db", target: "db-copy" })),
    field: "spec.volumes",
    zod: true,
  },
  {
    name: "changed copy volumes",
    why: "a job copies what it was created to copy",
    kind: "CopyJob",
    spec: jobSpec(set("operation", "Copy"), set("volumes", { source: "db", target: "db-copy" })),
    update: jobSpec(set("operation", "Copy"), set("volumes", { source: "db", target: "other" })),
    field: "spec.volumes",
    zod: false,
  },
  {
    name: "negative TTL",
    why: "a duration cannot be negative",
    kind: "CopyJob",
    spec: jobSpec(set("ttlSecondsAfterFinished", -1)),
    field: "spec.ttlSecondsAfterFinished",
    zod: true,
  },
  {
    name: "changed operation",
    why: "a job is one operation",
    kind: "CopyJob",
    spec: jobSpec(),
    update: jobSpec(set("operation", "StartCopy")),
    field: "spec.operation",
    zod: false,
  },
  {
    name: "terminated job restarted",
    why: "a cancelled job stays cancelled",
    kind: "CopyJob",
    spec: jobSpec(set("requestedState", "Terminate")),
    update: jobSpec(set("requestedState", "Start")),
    field: "spec.requestedState",
    zod: false,
  },
  // CopyClass
  {
    name: "wsapi class without parameters",
    why: "a WSAPI class needs an endpoint and credentials",
    kind: "CopyClass",
    spec: classSpec(set("driver", "wsapi")),
    field: "spec.wsapi",
    zod: true,
  },
  {
    name: "unknown driver",
    why: "only built-in drivers exist",
    kind: "CopyClass",
    spec: classSpec(set("driver", "smis")),
    field: "spec.driver",
    zod: true,
  },
  {
    name: "unknown CSI volume handle rule",
    why: "a PV's array volume is found by a rule read from a driver's facts; a made-up one would be a guess",
    kind: "CopyClass",
    spec: classSpec(set("csiVolumeHandle", "Truncate31")),
    field: "spec.csiVolumeHandle",
    zod: true,
  },
  {
    name: "cim driver without its parameters",
    why: "the cim driver needs an endpoint and credentials",
    kind: "CopyClass",
    spec: classSpec(set("driver", "cim")),
    field: "spec.cim",
    zod: true,
  },
  {
    name: "plain-HTTP endpoint",
    why: "credentials never travel unencrypted",
    kind: "CopyClass",
    spec: classSpec(set("driver", "wsapi"), set("wsapi", { ...wsapi, endpoint: "http://array1:8008/api/v1" })),
    field: "spec.wsapi.endpoint",
    zod: true,
  },
  {
    name: "embedded parameters on a wsapi class",
    why: "parameters of another driver are a mistake",
    kind: "CopyClass",
    spec: classSpec(set("driver", "wsapi"), set("wsapi", wsapi), set("embedded", {})),
    field: "spec.embedded",
    zod: true,
  },
  {
    name: "zero concurrent copies",
    why: "the queue would never run",
    kind: "CopyClass",
    spec: classSpec(set("embedded", { maxConcurrentCopies: 0 })),
    field: "spec.embedded.maxConcurrentCopies",
    zod: true,
  },
  {
    name: "changed driver",
    why: "copies made with a class live on its array",
    kind: "CopyClass",
    spec: classSpec(),
    update: classSpec(set("driver", "wsapi"), set("wsapi", wsapi)),
    field: "spec.driver",
    zod: false,
  },
  // CopySchedule: what CEL can check of a cron schedule, a time zone and the counts; the rest is a Stalled condition.
  {
    name: "schedule with a seconds field",
    why: "CronJob takes five fields; a sixth would silently mean seconds to the library",
    kind: "CopySchedule",
    spec: scheduleSpec(set("schedule", "0 0 2 * * *")),
    field: "spec.schedule",
    zod: true,
  },
  {
    name: "schedule with four fields",
    why: "a field left out shifts every other one",
    kind: "CopySchedule",
    spec: scheduleSpec(set("schedule", "0 2 * *")),
    field: "spec.schedule",
    zod: true,
  },
  {
    name: "schedule with a time zone prefix",
    why: "the zone goes in spec.timeZone, as CronJob requires",
    kind: "CopySchedule",
    spec: scheduleSpec(set("schedule", "CRON_TZ=Europe/Paris 0 2 * * *")),
    field: "spec.schedule",
    zod: true,
  },
  {
    name: "schedule with the random H",
    why: "H picks another time on every parse: no two reconciles would agree",
    kind: "CopySchedule",
    spec: scheduleSpec(set("schedule", "H 2 * * *")),
    field: "spec.schedule",
    zod: true,
  },
  {
    name: "time zone with a space",
    why: "no IANA zone has one",
    kind: "CopySchedule",
    spec: scheduleSpec(set("timeZone", "Europe/New York")),
    field: "spec.timeZone",
    zod: true,
  },
  {
    name: "unknown concurrency policy",
    why: "a typo must not silently mean Forbid",
    kind: "CopySchedule",
    spec: scheduleSpec(set("concurrencyPolicy", "Sometimes")),
    field: "spec.concurrencyPolicy",
    zod: true,
  },
  {
    name: "negative starting deadline",
    why: "a deadline before the run's time would skip every run",
    kind: "CopySchedule",
    spec: scheduleSpec(set("startingDeadlineSeconds", -1)),
    field: "spec.startingDeadlineSeconds",
    zod: true,
  },
  {
    name: "schedule with no template",
    why: "a schedule makes a VirtualCopy or a CopyJob",
    kind: "CopySchedule",
    spec: scheduleSpec(unset("virtualCopyTemplate")),
    field: "spec",
    zod: true,
  },
  {
    name: "schedule with both templates",
    why: "each run makes one object",
    kind: "CopySchedule",
    spec: scheduleSpec(
      set("copyJobTemplate", { spec: { copyRef: { kind: "PhysicalCopy", name: "t" }, operation: "Resync" } }),
    ),
    field: "spec",
    zod: true,
  },
  {
    name: "retention that keeps nothing",
    why: "an empty retention would delete every copy",
    kind: "CopySchedule",
    spec: scheduleSpec(set("retention", {})),
    field: "spec.retention",
    zod: true,
  },
  {
    name: "retention count of zero",
    why: "keeping zero copies is deleting the last good one",
    kind: "CopySchedule",
    spec: scheduleSpec(set("retention", { keepLast: 0 })),
    field: "spec.retention.keepLast",
    zod: true,
  },
  {
    name: "retention count over 100",
    why: "the status lists what is kept",
    kind: "CopySchedule",
    spec: scheduleSpec(set("retention", { daily: 365 })),
    field: "spec.retention.daily",
    zod: true,
  },
  {
    name: "scheduled Copy job",
    why: "the initial copy is its PhysicalCopy's job, with the volumes it resolved",
    kind: "CopySchedule",
    spec: scheduleSpec(
      unset("virtualCopyTemplate"),
      set("copyJobTemplate", { spec: { copyRef: { kind: "PhysicalCopy", name: "t" }, operation: "Copy" } }),
    ),
    field: "spec.copyJobTemplate.spec.operation",
    zod: true,
  },
  {
    name: "scheduled Restore of a physical copy",
    why: "Restore applies to a VirtualCopy only, in a template as in a job",
    kind: "CopySchedule",
    spec: scheduleSpec(
      unset("virtualCopyTemplate"),
      set("copyJobTemplate", { spec: { copyRef: { kind: "PhysicalCopy", name: "t" }, operation: "Restore" } }),
    ),
    field: "spec.copyJobTemplate.spec.operation",
    zod: true,
  },
  {
    name: "template retention longer than expiration",
    why: "the array would refuse every copy made (INV_INPUT_RETAIN_GT_EXPIRE)",
    kind: "CopySchedule",
    spec: scheduleSpec(
      set("virtualCopyTemplate.spec.expirationHours", 24),
      set("virtualCopyTemplate.spec.retentionHours", 48),
    ),
    field: "spec.virtualCopyTemplate.spec.retentionHours",
    zod: true,
  },
  {
    name: "schedule swapping its template kind",
    why: "what it made before would be left out of its retention and its deletion",
    kind: "CopySchedule",
    spec: scheduleSpec(),
    update: scheduleSpec(
      unset("virtualCopyTemplate"),
      set("copyJobTemplate", { spec: { copyRef: { kind: "PhysicalCopy", name: "t" }, operation: "Resync" } }),
    ),
    field: "spec.virtualCopyTemplate",
    zod: false,
  },
  {
    name: "schedule with a group template and a VirtualCopy template",
    why: "each run makes one object, of one kind",
    kind: "CopySchedule",
    spec: scheduleSpec(set("virtualCopyGroupTemplate", { spec: groupSpec() })),
    field: "spec",
    message: "exactly one of virtualCopyTemplate, virtualCopyGroupTemplate or copyJobTemplate must be set",
    zod: true,
  },
  {
    name: "schedule swapping its VirtualCopy template for a group template",
    why: "the copies it made before would be left out of its retention and its deletion",
    kind: "CopySchedule",
    spec: scheduleSpec(),
    update: scheduleSpec(unset("virtualCopyTemplate"), set("virtualCopyGroupTemplate", { spec: groupSpec() })),
    field: "spec.virtualCopyTemplate",
    message: "a schedule makes one kind for good",
    zod: false,
  },
  {
    name: "group template with two ways of naming its members",
    why: "every group the schedule made would be refused; the template is checked as a group is",
    kind: "CopySchedule",
    spec: scheduleSpec(
      unset("virtualCopyTemplate"),
      set("virtualCopyGroupTemplate", { spec: groupSpec(set("members.volumeSet", "db-set")) }),
    ),
    field: "spec.virtualCopyGroupTemplate.spec.members",
    message: "exactly one of selector, pvcs, volumes or volumeSet must be set",
    zod: true,
  },
  {
    name: "schedule name over 52 characters",
    why: "each copy is named <name>-<yyyymmddhhmm>, and the name is a label value (63 at most)",
    kind: "CopySchedule",
    metadataName: `s${"x".repeat(52)}`,
    spec: scheduleSpec(),
    field: "metadata.name",
    zod: false,
  },
  // VirtualCopyGroup
  {
    name: "group with two ways of naming its members",
    why: "a group's members are named one way: which list would count?",
    kind: "VirtualCopyGroup",
    spec: groupSpec(set("members.volumeSet", "db-set")),
    field: "spec.members",
    zod: true,
  },
  {
    name: "group with no members",
    why: "an empty members object must not pass as a group",
    kind: "VirtualCopyGroup",
    spec: groupSpec(unset("members.volumes")),
    field: "spec.members",
    zod: true,
  },
  {
    name: "group with an empty selector",
    why: "an empty selector selects every claim of the namespace",
    kind: "VirtualCopyGroup",
    spec: groupSpec(unset("members.volumes"), set("members.selector", { matchLabels: {} })),
    field: "spec.members.selector",
    zod: true,
  },
  {
    name: "group of 65 volumes",
    why: "a group takes at most 64 members (names keep two digits of index within 31 characters)",
    kind: "VirtualCopyGroup",
    spec: groupSpec(
      set(
        "members.volumes",
        Array.from({ length: 65 }, (_, i) => `v${i}`),
      ),
    ),
    field: "spec.members.volumes",
    zod: true,
  },
  {
    name: "group naming a volume twice",
    why: "one volume cannot be copied twice at one point in time",
    kind: "VirtualCopyGroup",
    spec: groupSpec(set("members.volumes", ["db-data", "db-data"])),
    field: "spec.members.volumes",
    zod: true,
  },
  {
    name: "group member name over 31 characters",
    why: "the array's volume names are at most 31 characters",
    kind: "VirtualCopyGroup",
    spec: groupSpec(set("members.volumes", ["x".repeat(32)])),
    field: "spec.members.volumes",
    zod: true,
  },
  {
    name: "group retention above expiration",
    why: "the array refuses retention past expiration (INV_INPUT_RETAIN_GT_EXPIRE)",
    kind: "VirtualCopyGroup",
    spec: groupSpec(set("expirationHours", 24), set("retentionHours", 48)),
    field: "spec.retentionHours",
    zod: true,
  },
  {
    name: "group members changed",
    why: "the copies were made of these members at one point in time",
    kind: "VirtualCopyGroup",
    spec: groupSpec(),
    update: groupSpec(set("members.volumes", ["db-data"])),
    field: "spec.members",
    zod: false,
  },
  {
    name: "group retention lowered",
    why: "retention can be raised, never lowered (array rule)",
    kind: "VirtualCopyGroup",
    spec: groupSpec(set("retentionHours", 48)),
    update: groupSpec(set("retentionHours", 24)),
    field: "spec.retentionHours",
    zod: false,
  },
];
