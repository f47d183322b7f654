// The zod schemas and the CRDs agree: every example parses, and every invalid create in the corpus (the same one
// the apiserver refuses in test/integration/api.test.ts) is refused by zod too, at the field the apiserver names.
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import type { z } from "zod";
import { copyClassSpec } from "../../operator/src/api/copyclass.ts";
import { copyJobSpec } from "../../operator/src/api/copyjob.ts";
import { copyScheduleSpec } from "../../operator/src/api/copyschedule.ts";
import { physicalCopySpec } from "../../operator/src/api/physicalcopy.ts";
import { virtualCopySpec } from "../../operator/src/api/virtualcopy.ts";
import { virtualCopyGroupSpec } from "../../operator/src/api/virtualcopygroup.ts";
import { invalidCases } from "../support/invalid-corpus.ts";

const specs: Record<string, z.ZodType> = {
  VirtualCopy: virtualCopySpec,
  VirtualCopyGroup: virtualCopyGroupSpec,
  PhysicalCopy: physicalCopySpec,
  CopyJob: copyJobSpec,
  CopyClass: copyClassSpec,
  CopySchedule: copyScheduleSpec,
};
const root = join(import.meta.dirname, "..", "..");

describe("examples parse with the zod schemas", () => {
  const docs = ["examples", "examples/wsapi"].flatMap((d) =>
    readdirSync(join(root, d))
      .filter((f) => f.endsWith(".yaml"))
      .flatMap((f) =>
        parseAllDocuments(readFileSync(join(root, d, f), "utf8")).map(
          (doc) => [`${d}/${f}`, doc.toJS() as { kind: string; spec: unknown }] as const,
        ),
      ),
  );
  const ours = docs.filter(([, o]) => o.kind in specs);
  it("covers every kind", () => {
    expect(new Set(ours.map(([, o]) => o.kind))).toEqual(new Set(Object.keys(specs)));
  });
  it.each(ours.map(([f, o]) => [`${f} ${o.kind}`, o] as const))("%s", (_n, o) => {
    const res = specs[o.kind]?.safeParse(o.spec);
    expect(res?.error?.issues ?? []).toEqual([]);
  });
});

describe("invalid creates are refused by zod at the field the apiserver names", () => {
  it.each(invalidCases.filter((c) => c.zod).map((c) => [c.name, c] as const))("%s", (_n, c) => {
    const res = specs[c.kind]?.safeParse(c.spec);
    expect(res?.success, c.why).toBe(false);
    const paths = (res?.error?.issues ?? []).map((i) => ["spec", ...i.path.map(String)].join("."));
    expect(
      paths.some((p) => p.startsWith(c.field) || c.field.startsWith(p)),
      `zod paths ${paths.join(", ")}`,
    ).toBe(true);
  });
});
