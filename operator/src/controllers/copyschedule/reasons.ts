// The closed sets of reasons a CopySchedule shows: on its conditions (Ready, Reconciling, Stalled; documented in
// docs/status.md) and on its Events.
export const copyScheduleReasons = [
  "Scheduled",
  "Suspended",
  "LastRunSucceeded",
  "LastRunFailed",
  "InvalidSchedule",
  "InvalidTimeZone",
  "NameTaken",
  "CreateFailed",
  "Deleting",
] as const;
export type CopyScheduleReason = (typeof copyScheduleReasons)[number];

export const copyScheduleEventReasons = [
  "Created",
  "Replaced",
  "MissedSchedule",
  "RunSucceeded",
  "RunFailed",
  "Pruned",
  "DeletionRefused",
  "InvalidSchedule",
  "InvalidTimeZone",
  "NameTaken",
  "CreateFailed",
] as const;
export type CopyScheduleEventReason = (typeof copyScheduleEventReasons)[number];
