// CopySchedule: makes a VirtualCopy (a snapshot), a VirtualCopyGroup (snapshots of several volumes at one point
// in time) or a CopyJob (a Resync, say) on a cron schedule, as a CronJob makes
// Jobs, and prunes what it made by a retention that counts only Ready copies. CEL cannot parse cron: the apiserver
// checks what CEL can (five fields of cron characters or a macro, a time zone's shape, counts in range) and the
// operator reports a schedule or zone its cron library refuses as a Stalled condition.
import { z } from "zod";
import { conditions, countSet, objectName, timestamp, withRules, type CelRule } from "./common.ts";
import { copyJobTemplateSpec } from "./copyjob.ts";
import { virtualCopyTemplateSpec } from "./virtualcopy.ts";
import { virtualCopyGroupTemplateSpec } from "./virtualcopygroup.ts";

/** One cron field: values, 3-letter names, `*` or `?`, ranges, steps and lists (no L, W, # or H). */
const cronItem = String.raw`(\*|\?|[0-9]{1,2}|[A-Za-z]{3})(-([0-9]{1,2}|[A-Za-z]{3}))?(/[0-9]{1,2})?`;
const cronField = `${cronItem}(,${cronItem})*`;
/** The macros Kubernetes CronJob accepts. */
export const cronMacros = ["@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"] as const;
export const cronPattern = `^(${cronField})( +${cronField}){4}$|^@(${cronMacros.map((m) => m.slice(1)).join("|")})$`;
const cronRegex = new RegExp(cronPattern);

/** An IANA zone name's shape ("Europe/Paris", "UTC", "America/Argentina/Buenos_Aires", "Etc/GMT+5"). */
export const timeZonePattern = "^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$";
const timeZoneRegex = new RegExp(timeZonePattern);

/** How many copies a retention tier keeps, at most. */
const keepCount = z.number().int().min(1).max(100);

/** A schedule's name leaves room for `-<yyyymmddhhmm>` and fits a label value (63), as CronJob's 52 does. */
export const maxScheduleNameLength = 52;
export const scheduleNameRule: CelRule = {
  rule: `self.metadata.name.size() <= ${maxScheduleNameLength}`,
  message:
    `metadata.name must be at most ${maxScheduleNameLength} characters: ` +
    "each object made is named <name>-<yyyymmddhhmm>",
};

const templateMetadata = z
  .object({
    labels: z
      .record(z.string(), z.string().describe("A label's value."))
      .optional()
      .describe("Labels put on each object made."),
    annotations: z
      .record(z.string(), z.string().describe("An annotation's value."))
      .optional()
      .describe("Annotations put on each object made."),
  })
  .optional()
  .describe("Labels and annotations for each object made (the schedule adds its own label and annotation).");

export const retention = withRules(
  z.object({
    keepLast: keepCount.optional().describe("Keep the newest N Ready copies."),
    hourly: keepCount.optional().describe("Keep the newest Ready copy of each of the last N hours that have one."),
    daily: keepCount.optional().describe("Keep the newest Ready copy of each of the last N days that have one."),
    weekly: keepCount
      .optional()
      .describe("Keep the newest Ready copy of each of the last N ISO weeks (Monday to Sunday) that have one."),
    monthly: keepCount.optional().describe("Keep the newest Ready copy of each of the last N months that have one."),
  }),
  {
    rule: "has(self.keepLast) || has(self.hourly) || has(self.daily) || has(self.weekly) || has(self.monthly)",
    message: "retention keeps at least one copy: set keepLast, hourly, daily, weekly or monthly",
    check: (v) => [v.keepLast, v.hourly, v.daily, v.weekly, v.monthly].some((n) => n !== undefined),
  },
).describe(
  "Which copies to keep (grandfather-father-son). Only Ready copies (Succeeded jobs) count, the newest Ready one " +
    "is always kept, and a copy that is not Ready is deleted only once it is older than every copy kept. Periods " +
    "are read in the schedule's time zone. Unset keeps everything.",
);

export const copyScheduleSpec = withRules(
  z.object({
    schedule: z
      .string()
      .max(128)
      .describe(
        "When to make a copy, in cron format as for a CronJob: five fields (minute hour day-of-month month " +
          "day-of-week), or @hourly, @daily (@midnight), @weekly, @monthly, @yearly (@annually).",
      ),
    timeZone: z
      .string()
      .max(64)
      .optional()
      .describe("The IANA time zone the schedule is read in, e.g. Europe/Paris. Defaults to UTC."),
    suspend: z.boolean().default(false).describe("Make no new copies while true (retention still prunes)."),
    concurrencyPolicy: z
      .enum(["Forbid", "Replace", "Allow"])
      .default("Forbid")
      .describe(
        "What to do when a run is due while the last one is still running (a copy not yet Ready, a job not " +
          "finished): Forbid (the default) waits for it and then makes the run, unless the deadline has passed; " +
          "Replace deletes the running copy, or terminates the running job, and makes the new one; Allow makes it.",
      ),
    startingDeadlineSeconds: z
      .number()
      .int()
      .min(0)
      .max(31_536_000)
      .optional()
      .describe(
        "A run more than this many seconds late (the operator was down, or Forbid waited) is skipped, with a " +
          "Warning event. Unset: a missed run is made once, however late.",
      ),
    virtualCopyTemplate: z
      .object({ metadata: templateMetadata, spec: virtualCopyTemplateSpec })
      .optional()
      .describe("Make a VirtualCopy each time."),
    virtualCopyGroupTemplate: z
      .object({ metadata: templateMetadata, spec: virtualCopyGroupTemplateSpec })
      .optional()
      .describe(
        "Make a VirtualCopyGroup each time: copies of several volumes at one point in time (retention counts a " +
          "group when every member is Ready, and a pruned group's member copies go as its deletionPolicy says).",
      ),
    copyJobTemplate: z
      .object({ metadata: templateMetadata, spec: copyJobTemplateSpec })
      .optional()
      .describe("Make a CopyJob each time (for example a Resync of a PhysicalCopy)."),
    retention: retention.optional(),
  }),
  {
    rule: "self.schedule.matches('" + cronPattern.replace(/\\/g, "\\\\") + "')",
    message:
      "schedule must be five cron fields (minute hour day-of-month month day-of-week) of digits, names, " +
      "'*', '?', ',', '-' and '/', or one of " +
      cronMacros.join(", "),
    fieldPath: ".schedule",
    check: (v) => cronRegex.test(v.schedule),
  },
  {
    rule: "!has(self.timeZone) || self.timeZone.matches('" + timeZonePattern + "')",
    message: "timeZone must be an IANA time zone name, such as Europe/Paris or UTC",
    fieldPath: ".timeZone",
    check: (v) => v.timeZone === undefined || timeZoneRegex.test(v.timeZone),
  },
  {
    rule:
      "[has(self.virtualCopyTemplate), has(self.virtualCopyGroupTemplate), has(self.copyJobTemplate)]" +
      ".filter(x, x).size() == 1",
    message: "exactly one of virtualCopyTemplate, virtualCopyGroupTemplate or copyJobTemplate must be set",
    check: (v) => countSet(v.virtualCopyTemplate, v.virtualCopyGroupTemplate, v.copyJobTemplate) === 1,
  },
  {
    rule:
      "has(self.virtualCopyTemplate) == has(oldSelf.virtualCopyTemplate) && " +
      "has(self.virtualCopyGroupTemplate) == has(oldSelf.virtualCopyGroupTemplate)",
    message:
      "a schedule makes one kind for good: virtualCopyTemplate, virtualCopyGroupTemplate and copyJobTemplate " +
      "cannot be swapped (make a new schedule)",
    fieldPath: ".virtualCopyTemplate",
  },
).describe("The desired schedule.");

const lastRun = z
  .object({
    name: objectName.describe("The object the run made."),
    scheduledTime: timestamp.describe("The scheduled time of the run."),
    result: z
      .enum(["Running", "Succeeded", "Failed"])
      .describe("Running (not Ready yet), Succeeded (Ready, or the job succeeded) or Failed."),
  })
  .describe("The newest run, and how it went.");

export const copyScheduleStatus = z
  .object({
    observedGeneration: z.number().int().min(0).optional().describe("The .metadata.generation last acted on."),
    conditions: conditions.optional(),
    lastScheduleTime: timestamp.optional().describe("The scheduled time of the last run made (or skipped)."),
    lastSuccessfulTime: timestamp.optional().describe("The scheduled time of the newest run that succeeded."),
    nextScheduleTime: timestamp.optional().describe("When the next run is due (unset while suspended)."),
    lastRun: lastRun.optional(),
    active: z.array(objectName).max(100).optional().describe("Objects made whose run is still going on."),
    kept: z
      .array(objectName)
      .max(500)
      .optional()
      .describe("The Ready copies (Succeeded jobs) retention keeps, newest first."),
    deletionRefused: z
      .array(
        z.object({
          name: objectName.describe("The copy."),
          message: z.string().max(1024).describe("Why its deletion is refused."),
        }),
      )
      .max(100)
      .optional()
      .describe("Copies retention deleted whose deletion the array refuses (retention hours not yet over)."),
    counts: z
      .object({
        total: z.number().int().min(0).describe("Objects made that exist."),
        ready: z.number().int().min(0).describe("Ready copies (Succeeded jobs)."),
        failed: z.number().int().min(0).describe("Failed ones (a Stalled copy, a failed job)."),
        running: z.number().int().min(0).describe("Runs still going on."),
        deleting: z.number().int().min(0).describe("Objects being deleted."),
      })
      .optional()
      .describe("How many of each the schedule holds."),
  })
  .describe("The observed state of the schedule.");

export const copySchedule = z.object({
  apiVersion: z.string().optional(),
  kind: z.string().optional(),
  metadata: z.object({}).loose().optional(),
  spec: copyScheduleSpec,
  status: copyScheduleStatus.optional(),
});
export type CopyScheduleSpec = z.infer<typeof copyScheduleSpec>;
export type CopyScheduleStatus = z.infer<typeof copyScheduleStatus>;
export type RetentionPolicy = z.infer<typeof retention>;
