import { describe, expect, it } from "vitest";
import { copyObservation, linked } from "../../../../test/support/builders.ts";
import { EngineError } from "../../engine/errors.ts";
import type { VirtualCopyGroupObject } from "../shared/objects.ts";
import { decide, type Gathered } from "./decide.ts";
import { report } from "./status.ts";

const now = Date.parse("2026-11-24T02:00:00Z");
const uid = "0123456789abcdef-0123-4567-89ab-cdef01234567";
const prefix = "vg-0123456789abcdef012345-";
const owner = { namespace: "ns", name: "db", uid };

const group = (mods: Partial<VirtualCopyGroupObject> = {}): VirtualCopyGroupObject => ({
  metadata: { name: "db", namespace: "ns", uid, generation: 1, finalizers: ["arraycopy.io/array-object"] },
  spec: { members: { volumes: ["data", "wal"] }, readOnly: true },
  ...mods,
});
const member = (i: number, source: string, mods = {}) =>
  copyObservation({ name: `${prefix}${i}`, source, owner, ...mods });
const broken = {
  conditions: [
    {
      type: "Ready",
      status: "False" as const,
      reason: "Broken",
      message: "the group copy failed: x",
      lastTransitionTime: "2026-11-24T01:59:00Z",
    },
  ],
};
const gathered = (g: Partial<Gathered>): Gathered => ({ group: group(), now, link: linked([]), ...g });
const members = { ok: true, members: [{ volume: "data" }, { volume: "wal" }] } as const;

describe("VirtualCopyGroup decide", () => {
  it("a new group is made in one call, named from the UID, with the owner tag", () => {
    expect(decide(gathered({ members }))).toMatchObject({
      kind: "create",
      request: { namePrefix: prefix, sources: ["data", "wal"], readOnly: true, owner },
      recordIntent: true,
      addFinalizer: false,
    });
  });

  it("on an engine whose creates cannot land late, the group is made with no intent recorded", () => {
    const plan = decide(gathered({ members, link: linked([], { createsMayLandLate: false }) }));
    expect(plan).toMatchObject({ kind: "create", recordIntent: false });
  });

  it.each([
    {
      why: "an engine without group copies is not asked",
      g: gathered({ link: linked([], { groupVirtualCopies: false }) }),
      want: { kind: "unsupported" },
    },
    {
      why: "members that do not resolve wait, with the finalizer on",
      g: gathered({ members: { ok: false, reason: "SourceNotFound", message: "m" } }),
      want: { kind: "waitForMembers", reason: "SourceNotFound" },
    },
    {
      why: "a failed group is never made again: the copies it left are deleted",
      g: gathered({
        group: group({ status: broken }),
        link: linked([member(0, "data"), member(1, "wal", { owner: { ...owner, uid: "someone-else" } })]),
      }),
      want: { kind: "cleanup", copies: [{ name: `${prefix}0` }] },
    },
    {
      why: "a made group that lost a member is Lost, not re-made",
      g: gathered({
        group: group({
          status: {
            creationTime: "2026-11-24T01:00:00Z",
            members: [
              { arrayName: `${prefix}0`, sourceVolume: "data", ready: true },
              { arrayName: `${prefix}1`, sourceVolume: "wal", ready: true },
            ],
          },
        }),
        link: linked([member(0, "data")]),
      }),
      want: { kind: "gone", missing: [`${prefix}1`] },
    },
  ])("$why", ({ g, want }) => {
    expect(decide(g)).toMatchObject(want);
  });

  it("deletion deletes only the copies whose owner tag names the group", () => {
    const deleting = group({ metadata: { ...group().metadata, deletionTimestamp: "2026-11-24T01:59:00Z" } });
    const plan = decide(
      gathered({
        group: deleting,
        link: linked([member(0, "data"), member(1, "wal", { owner: { ...owner, name: "other" } })]),
      }),
    );
    expect(plan).toEqual({ kind: "delete", copies: [member(0, "data")] });
  });

  it("a member that fails makes the group Broken, with a Warning and a quick second look for leftovers", () => {
    const g = gathered({ members });
    const plan = decide(g);
    const error = new EngineError("injected: failed on its second member", { code: "Internal", kind: "final" });
    const rep = report(g, plan, { error });
    expect(rep.reason).toBe("Broken");
    expect(rep.events).toContainEqual(expect.objectContaining({ type: "Warning", reason: "Broken" }));
    expect(rep.next).toEqual({ kind: "after", ms: 1_000 });
  });
});
