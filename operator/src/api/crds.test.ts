import { describe, expect, it } from "vitest";
import { z } from "zod";
import { crdFor, crds, kinds, openApiSchema, structural, type JsonSchema } from "./crds.ts";
import { withRules } from "./common.ts";

type Node = JsonSchema & { properties?: Record<string, Node>; items?: Node };

/** Every schema node, with its path, depth first. */
function* walk(node: Node, path: string): Generator<[string, Node]> {
  yield [path, node];
  for (const [k, v] of Object.entries(node.properties ?? {})) yield* walk(v, `${path}.${k}`);
  if (node.items !== undefined) yield* walk(node.items, `${path}[]`);
  if (typeof node.additionalProperties === "object") yield* walk(node.additionalProperties as Node, `${path}{}`);
}

const rootOf = (crd: JsonSchema): Node => {
  const spec = crd.spec as { versions: { schema: { openAPIV3Schema: Node } }[] };
  const v = spec.versions[0];
  if (v === undefined) throw new Error("no version");
  return v.schema.openAPIV3Schema;
};
const versionOf = (kind: string) => {
  const def = kinds.find((k) => k.kind === kind);
  if (def === undefined) throw new Error(kind);
  return (crdFor(def).spec as { versions: Record<string, unknown>[] }).versions[0] ?? {};
};
const rulesAt = (root: Node, path: string): string[] => {
  const node = [...walk(root, "")].find(([p]) => p === path)?.[1];
  return ((node?.["x-kubernetes-validations"] ?? []) as { rule: string }[]).map((r) => r.rule);
};

describe("schema to CRD generation", () => {
  const all = crds();

  it("makes one CRD per kind, in group arraycopy.io, with the arraycopy category", () => {
    expect(all.map((c) => (c.metadata as { name: string }).name).sort()).toEqual([
      "copyclasses.arraycopy.io",
      "copyjobs.arraycopy.io",
      "copyschedules.arraycopy.io",
      "physicalcopies.arraycopy.io",
      "virtualcopies.arraycopy.io",
      "virtualcopygroups.arraycopy.io",
    ]);
    for (const crd of all)
      expect((crd.spec as { names: { categories: string[] } }).names.categories).toEqual(["arraycopy"]);
  });

  it.each(all.map((c) => [(c.metadata as { name: string }).name, c] as const))("%s is structural", (_n, crd) => {
    for (const [path, node] of walk(rootOf(crd), "")) {
      expect(node.type, `${path} has no type`).toBeTypeOf("string");
      for (const banned of ["$schema", "oneOf", "anyOf", "allOf", "not", "$ref", "definitions"]) {
        expect(node, `${path} carries ${banned}`).not.toHaveProperty(banned);
      }
      expect(node.additionalProperties, `${path} forbids additional properties`).not.toBe(false);
      if (node.format === "date-time")
        expect(node, `${path}: date-time keeps its pattern`).not.toHaveProperty("pattern");
    }
  });

  it.each(all.map((c) => [(c.metadata as { name: string }).name, c] as const))(
    "%s describes every spec field for kubectl explain",
    (_n, crd) => {
      const spec = rootOf(crd).properties?.spec;
      if (spec === undefined) throw new Error("no spec");
      for (const [path, node] of walk(spec, "spec")) {
        if (path.endsWith("[]")) continue;
        expect(node.description, `${path} has no description`).toBeTypeOf("string");
      }
    },
  );

  it("keeps conditions a map list keyed by type, so server-side apply merges them per type", () => {
    for (const crd of all) {
      const conds = rootOf(crd).properties?.status?.properties?.conditions;
      expect(conds?.["x-kubernetes-list-type"]).toBe("map");
      expect(conds?.["x-kubernetes-list-map-keys"]).toEqual(["type"]);
      expect(conds?.items?.required).toEqual(["type", "status", "lastTransitionTime", "reason", "message"]);
    }
  });

  it("has a status subresource and the printer columns users read", () => {
    const columns = (kind: string) =>
      (versionOf(kind).additionalPrinterColumns as { name: string }[]).map((c) => c.name);
    for (const kind of ["VirtualCopy", "PhysicalCopy", "CopyJob", "CopyClass", "CopySchedule"])
      expect(versionOf(kind).subresources).toEqual({ status: {} });
    expect(columns("VirtualCopy")).toEqual(expect.arrayContaining(["SyncState", "CopyType", "Ready", "Age"]));
    expect(columns("PhysicalCopy")).toEqual(
      expect.arrayContaining(["SyncState", "CopyType", "Progress", "Ready", "Age"]),
    );
    expect(columns("CopyJob")).toEqual(expect.arrayContaining(["JobState", "Progress", "Succeeded", "Age"]));
    expect(columns("CopySchedule")).toEqual(
      expect.arrayContaining(["Schedule", "Suspend", "Kept", "LastSchedule", "Ready", "Age"]),
    );
  });

  it("guards immutable fields and exactly-one-of choices with CEL", () => {
    const root = (kind: string) => {
      const def = kinds.find((k) => k.kind === kind);
      if (def === undefined) throw new Error(kind);
      return rootOf(crdFor(def));
    };
    expect(rulesAt(root("VirtualCopy"), ".spec.source")).toEqual([
      "has(self.persistentVolumeClaimName) != has(self.volumeName)",
      "self == oldSelf",
    ]);
    expect(rulesAt(root("PhysicalCopy"), ".spec.target")).toContain("self == oldSelf");
    expect(rulesAt(root("PhysicalCopy"), ".spec.target")[0]).toContain(".size() == 1");
    expect(rulesAt(root("CopyJob"), ".spec.operation")).toEqual(["self == oldSelf"]);
    expect(rulesAt(root("CopyJob"), ".spec.copyRef")).toEqual(["self == oldSelf"]);
  });
});

describe("withRules", () => {
  const schema = withRules(z.object({ a: z.number().optional(), b: z.number().optional() }), {
    rule: "!has(self.a) || !has(self.b) || self.a <= self.b",
    message: "a must not exceed b",
    fieldPath: ".a",
    check: (v) => v.a === undefined || v.b === undefined || v.a <= v.b,
  });

  it("puts the CEL rule, without its check, into the schema", () => {
    expect(openApiSchema(schema)["x-kubernetes-validations"]).toEqual([
      { rule: "!has(self.a) || !has(self.b) || self.a <= self.b", message: "a must not exceed b", fieldPath: ".a" },
    ]);
  });

  it("makes zod refuse the same object, at the same path", () => {
    const res = schema.safeParse({ a: 2, b: 1 });
    expect(res.success).toBe(false);
    expect(res.error?.issues[0]).toMatchObject({ path: ["a"], message: "a must not exceed b" });
    expect(schema.safeParse({ a: 1, b: 2 }).success).toBe(true);
  });
});

describe("structural", () => {
  it("drops additionalProperties:false, $schema, date-time patterns and ±2^53 bounds, keeps the rest", () => {
    expect(
      structural({
        $schema: "x",
        type: "object",
        additionalProperties: false,
        properties: {
          t: { type: "string", format: "date-time", pattern: "^.*$" },
          n: { type: "integer", minimum: 0, maximum: Number.MAX_SAFE_INTEGER },
          s: { type: "string", pattern: "^a$" },
        },
      }),
    ).toEqual({
      type: "object",
      properties: {
        t: { type: "string", format: "date-time" },
        n: { type: "integer", minimum: 0 },
        s: { type: "string", pattern: "^a$" },
      },
    });
  });
});
