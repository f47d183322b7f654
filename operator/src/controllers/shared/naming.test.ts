import { describe, expect, it } from "vitest";
import {
  copyObservation,
  deleting,
  linked,
  uid,
  virtualCopy,
  withFinalizer,
} from "../../../../test/support/builders.ts";
import { decide } from "../virtualcopy/decide.ts";
import { arrayName, ownObservation } from "./naming.ts";

describe("arrayName", () => {
  it.each([
    [
      "a UUID gives a 27-character name the array accepts",
      "vc",
      "3f2a9c1e-7b4d-4e8a-9f10-2b3c4d5e6f70",
      "vc-3f2a9c1e7b4d4e8a9f102b3c",
    ],
    [
      "upper-case hex is folded so one UID gives one name",
      "pc",
      "3F2A9C1E-7B4D-4E8A-9F10-2B3C4D5E6F70",
      "pc-3f2a9c1e7b4d4e8a9f102b3c",
    ],
  ] as const)("%s", (_why, prefix, uid, want) => {
    const name = arrayName(prefix, uid);
    expect(name).toBe(want);
    expect(name.length).toBeLessThanOrEqual(31);
    expect(name).toMatch(/^[A-Za-z0-9_.-]+$/);
  });

  it("refuses a UID too short to be unique", () => {
    expect(() => arrayName("vc", "1234")).toThrow(/too short/);
  });
});

describe("ownObservation", () => {
  const mine = copyObservation();
  const squatter = copyObservation({
    owner: { namespace: "ns", name: "someone-else", uid: "00000000-0000-0000-0000-000000000000" },
  });
  it.each([
    ["our own copy is ours", mine, mine],
    [
      "another owner's copy under our name is never adopted (it would show Ready) nor deleted with our resource",
      squatter,
      undefined,
    ],
    ["nothing under our name stays nothing", undefined, undefined],
  ] as const)("%s", (_why, observed, want) => {
    expect(ownObservation(observed, uid)).toBe(want);
  });

  it("with another owner's copy filtered out, deleting our resource deletes nothing on the array", () => {
    const plan = decide({
      vc: virtualCopy("snap", withFinalizer(), deleting()),
      now: 0,
      link: linked(ownObservation(squatter, uid)),
    });
    expect(plan).toEqual({ kind: "release", why: "Absent" });
  });
});
