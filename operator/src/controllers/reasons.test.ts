// Every condition reason a kind can show is in its closed set (the types see to that) and documented in
// docs/status.md, where users look a reason up: `Reason`, or a family written `Prefix*`.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { copyJobReasons } from "./copyjob/reasons.ts";
import { copyScheduleEventReasons, copyScheduleReasons } from "./copyschedule/reasons.ts";
import { physicalCopyReasons } from "./physicalcopy/reasons.ts";
import { virtualCopyReasons } from "./virtualcopy/reasons.ts";
import { virtualCopyGroupReasons } from "./virtualcopygroup/reasons.ts";

const doc = readFileSync(join(import.meta.dirname, "..", "..", "..", "docs", "status.md"), "utf8");
const families = [...doc.matchAll(/`([A-Z][A-Za-z]*)\*`/g)].map((m) => m[1] ?? "");
const documented = (reason: string): boolean =>
  doc.includes(`\`${reason}\``) || families.some((f) => reason.startsWith(f));

describe("condition reasons", () => {
  it.each([
    ["VirtualCopy", virtualCopyReasons],
    ["VirtualCopyGroup", virtualCopyGroupReasons],
    ["PhysicalCopy", physicalCopyReasons],
    ["CopyJob", copyJobReasons],
    ["CopySchedule", copyScheduleReasons],
    ["CopySchedule (events)", copyScheduleEventReasons],
  ] as const)("every %s reason is documented in docs/status.md", (_kind, reasons) => {
    expect(reasons.filter((r) => !documented(r))).toEqual([]);
  });
});
