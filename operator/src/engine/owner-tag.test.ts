// The owner tag in comments: round trip, other text kept, foreign or damaged tags ignored.
import { describe, expect, it } from "vitest";
import { formatTag, parseTag, withTag, type CopyTag } from "./owner-tag.ts";

const tag: CopyTag = {
  kind: "Physical",
  source: "vol1",
  online: false,
  saveSnapshot: true,
  owner: { namespace: "ns", name: "copy-a", uid: "4f1c-9a" },
};

describe("owner tag", () => {
  it("is compact and round-trips", () => {
    expect(formatTag(tag)).toBe("arraycopy:v1 kind=physical,source=vol1,online=0,save=1,ns=ns,name=copy-a,uid=4f1c-9a");
    expect(parseTag(formatTag(tag))).toEqual(tag);
    expect(formatTag(tag).length).toBeLessThan(511);
  });
  it("keeps a CSI driver's own comment on an offline destination and replaces only our line", () => {
    const once = withTag('{"csi":"note"}', tag);
    const twice = withTag(once, { ...tag, owner: { ...tag.owner, name: "copy-b" } });
    expect(twice.split("\n")).toEqual(['{"csi":"note"}', expect.stringContaining("name=copy-b")]);
    expect(parseTag(twice)?.owner.name).toBe("copy-b");
  });
  it("ignores comments without a tag or with a damaged one", () => {
    expect(parseTag(undefined)).toBeUndefined();
    expect(parseTag("made by hand")).toBeUndefined();
    expect(parseTag("arraycopy:v1 kind=physical,source=v")).toBeUndefined();
  });
});
