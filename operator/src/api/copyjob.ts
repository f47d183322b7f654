// CopyJob: one asynchronous array operation on a copy — the initial Copy, Resync, StartCopy, Restore (promote a
// virtual copy onto its base) or Detach — modelled on CIM_ConcreteJob (a 3PAR task). Cancel by setting
// requestedState to Terminate (CIM RequestStateChange). A finished job never changes again. A Restore of a
// VirtualCopyGroup is one job over every member: one array task per member (as 3PAR starts one task per volume
// pair of a set, DOMAIN.md §2.4), listed in status.members, with one combined outcome.
import { z } from "zod";
import {
  arrayVolumeName,
  cel,
  conditions,
  immutable,
  jobState,
  objectName,
  operationalStatus,
  timestamp,
  withRules,
} from "./common.ts";

export const copyOperation = z
  .enum(["Copy", "Resync", "StartCopy", "Restore", "Detach"])
  .describe(
    "The operation (CIM ModifySynchronization): Copy runs a physical copy's initial copy; Resync (4) copies the " +
      "blocks changed since the saved snapshot; StartCopy (12) recopies everything; Restore (5) writes a virtual " +
      "copy back onto its base; Detach (2) ends a physical copy's association, leaving the target independent.",
  );
export type CopyOperation = z.infer<typeof copyOperation>;

const copyRef = z.object({
  kind: z
    .enum(["VirtualCopy", "PhysicalCopy", "VirtualCopyGroup"])
    .describe("Kind of the copy: VirtualCopy, PhysicalCopy, or VirtualCopyGroup (a Restore of every member)."),
  name: objectName.describe("Name of the copy, in the job's namespace."),
});
const priority = z.enum(["High", "Medium", "Low"]).optional();
const ttlSecondsAfterFinished = z
  .number()
  .int()
  .min(0)
  .max(31_536_000)
  .optional()
  .describe("Delete the job this many seconds after it finished (like batch Jobs). Unset keeps it.");
/** Restore acts on a virtual copy, and every other operation on a physical copy. */
const restoreRule = {
  rule:
    "self.copyRef.kind == 'VirtualCopyGroup' || " +
    "(self.copyRef.kind == 'VirtualCopy' ? self.operation == 'Restore' : self.operation != 'Restore')",
  message: "Restore is the only operation on a VirtualCopy, and applies only to a VirtualCopy or a VirtualCopyGroup",
  fieldPath: ".operation",
  check: (v: { copyRef: { kind: string }; operation: string }) =>
    v.copyRef.kind === "VirtualCopyGroup" || (v.copyRef.kind === "VirtualCopy") === (v.operation === "Restore"),
};
/**
 * A group's members are virtual copies: Restore is all a job can do to them. A group Resync would need a group of
 * PhysicalCopies, which does not exist: the refusal says so.
 */
const groupRule = {
  rule: "self.copyRef.kind != 'VirtualCopyGroup' || self.operation == 'Restore'",
  message:
    "Restore is the only operation on a VirtualCopyGroup: its members are virtual copies, which are never " +
    "resynchronised or detached; a group Resync would need a group of PhysicalCopies, which does not exist (make " +
    "one CopyJob per PhysicalCopy)",
  fieldPath: ".operation",
  check: (v: { copyRef: { kind: string }; operation: string }) =>
    v.copyRef.kind !== "VirtualCopyGroup" || v.operation === "Restore",
};

export const copyJobSpec = withRules(
  z.object({
    copyRef: copyRef.meta(cel(immutable("spec.copyRef"))).describe("The copy the job acts on. Immutable."),
    operation: copyOperation.meta(cel(immutable("spec.operation"))),
    volumes: z
      .object({
        source: arrayVolumeName.describe("The array volume the copy reads."),
        target: arrayVolumeName.describe("The array volume the copy writes (created by the array for an online copy)."),
      })
      .optional()
      .meta(cel(immutable("spec.volumes")))
      .describe(
        "Copy only, and required there: the array volumes of the initial copy, as its PhysicalCopy resolved them " +
          "(the PhysicalCopy controller sets them when it creates the job). Immutable (and, as operation is, " +
          "never added or removed).",
      ),
    priority: priority
      .meta(cel(immutable("spec.priority")))
      .describe("Priority of the array task (Resync and Restore). Immutable."),
    requestedState: z
      .enum(["Start", "Terminate"])
      .default("Start")
      .meta(
        cel({
          rule: "oldSelf != 'Terminate' || self == 'Terminate'",
          message: "a terminated job cannot be started again",
        }),
      )
      .describe("CIM RequestStateChange: set to Terminate to cancel the job; the array halts the task."),
    ttlSecondsAfterFinished,
  }),
  restoreRule,
  groupRule,
  {
    rule: "!has(self.volumes) || self.volumes.source != self.volumes.target",
    message: "volumes.target is volumes.source: a copy onto its own source would overwrite what it copies",
    fieldPath: ".volumes.target",
    check: (v) => v.volumes === undefined || v.volumes.source !== v.volumes.target,
  },
  {
    rule: "self.operation == 'Copy' ? has(self.volumes) : !has(self.volumes)",
    message: "volumes are given on a Copy job (source and target array volumes), and only on one",
    fieldPath: ".volumes",
    check: (v) => (v.operation === "Copy") === (v.volumes !== undefined),
  },
  {
    rule: "!has(self.priority) || self.operation != 'Detach'",
    message: "priority does not apply to Detach",
    fieldPath: ".priority",
    check: (v) => v.priority === undefined || v.operation !== "Detach",
  },
).describe("The desired job.");

/**
 * What a CopySchedule makes a CopyJob of each time (a nightly Resync, say): the operation and the copy it acts on,
 * with no rules on updates, as a template may be edited freely. Copy jobs are made by their PhysicalCopy only.
 */
export const copyJobTemplateSpec = withRules(
  z.object({
    copyRef: copyRef.describe("The copy each job acts on."),
    operation: z
      .enum(["Resync", "StartCopy", "Restore", "Detach"])
      .describe(
        "The operation of each job: Resync, StartCopy, Restore or Detach (a Copy job is made by its PhysicalCopy).",
      ),
    priority: priority.describe("Priority of the array task (Resync and Restore)."),
    ttlSecondsAfterFinished,
  }),
  restoreRule,
  groupRule,
  {
    rule: "!has(self.priority) || self.operation != 'Detach'",
    message: "priority does not apply to Detach",
    fieldPath: ".priority",
    check: (v) => v.priority === undefined || v.operation !== "Detach",
  },
).describe("The spec of each CopyJob the schedule makes.");

/** The array task of one member of a group's Restore. */
export const memberJobStatus = z.object({
  arrayName: arrayVolumeName.describe("The member's virtual copy on the array."),
  sourceVolume: arrayVolumeName.describe("The member's base: the volume the copy is restored onto."),
  arrayJobId: z.string().max(64).optional().describe("The array's task id (unset while not started)."),
  jobState: jobState
    .optional()
    .describe("CIM JobState of the member's task: New (not started), Running, Completed, Terminated or Exception."),
  operationalStatus: z.array(operationalStatus).max(4).optional().describe("CIM OperationalStatus of the task."),
  percentComplete: z.number().int().min(0).max(100).optional().describe("CIM PercentComplete of the task."),
  errorCode: z.number().int().optional().describe("The array's error code for this member, 0 when none."),
  errorDescription: z.string().max(1024).optional().describe("The array's text for this member's error."),
  startTime: timestamp.optional().describe("When the array started the member's task."),
  completionTime: timestamp.optional().describe("When the member's task finished."),
});
export type MemberJobStatus = z.infer<typeof memberJobStatus>;

export const copyJobStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional().describe("The .metadata.generation last acted on."),
    conditions: conditions.optional(),
    jobState: jobState
      .optional()
      .describe("CIM JobState: New, Starting, Running, then Completed, Terminated (cancelled) or Exception."),
    operationalStatus: z
      .array(operationalStatus)
      .max(4)
      .optional()
      .describe("CIM OperationalStatus: [Completed, OK] on success, [Completed, Error] on failure."),
    percentComplete: z.number().int().min(0).max(100).optional().describe("CIM PercentComplete, 0 to 100."),
    errorCode: z.number().int().optional().describe("CIM ErrorCode: the array's error code, 0 when none."),
    errorDescription: z.string().max(4096).optional().describe("CIM ErrorDescription: the array's text for the error."),
    arrayJobId: z.string().max(64).optional().describe("The array's task id."),
    timeSubmitted: timestamp.optional().describe("CIM TimeSubmitted: when the operator submitted the task."),
    startTime: timestamp.optional().describe("CIM StartTime: when the array started the task."),
    completionTime: timestamp.optional().describe("When the job finished."),
    elapsedSeconds: z.number().int().min(0).optional().describe("CIM ElapsedTime, in seconds."),
    members: z
      .array(memberJobStatus)
      .max(64)
      .optional()
      .describe(
        "A VirtualCopyGroup's Restore: each member's array task, in the group's member order. The job's state " +
          "combines them: Completed only when every member completed; Exception when one failed (it is named).",
      ),
  })
  .describe("The observed state of the job, as a CIM_ConcreteJob.");

export const copyJob = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({}).loose().optional(),
  spec: copyJobSpec,
  status: copyJobStatus.optional(),
});
export type CopyJobSpec = z.infer<typeof copyJobSpec>;
export type CopyJobStatus = z.infer<typeof copyJobStatus>;
