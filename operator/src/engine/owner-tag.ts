// The owner tag a driver (wsapi, cim) keeps in an array object's comment (≤ 511 characters), so that observe,
// idempotent create and delete can tell our copies from everyone else's after a restart. One line, compact and
// greppable:
//   arraycopy:v1 kind=physical,source=vol1,online=0,save=1,ns=default,name=copy-a,uid=4f1c…
// Kubernetes names and UIDs never hold "," or "=", so no escaping is needed. Other text in the comment (a CSI
// driver's own note on an offline destination) is kept: the tag is one line of it.
import type { CopyKind, OwnerTag } from "./port.ts";

const prefix = "arraycopy:v1 ";

/** The tag's source of a member of a volume-set snapshot: the snapshot's own copyOf ('@' is no name character). */
export const sourceFromCopyOf = "@copyOf";

export interface CopyTag {
  readonly kind: CopyKind;
  readonly source: string;
  readonly online: boolean;
  readonly saveSnapshot: boolean;
  readonly owner: OwnerTag;
}

export function formatTag(tag: CopyTag): string {
  const fields = [
    `kind=${tag.kind === "Virtual" ? "virtual" : "physical"}`,
    `source=${tag.source}`,
    `online=${tag.online ? 1 : 0}`,
    `save=${tag.saveSnapshot ? 1 : 0}`,
    `ns=${tag.owner.namespace}`,
    `name=${tag.owner.name}`,
    `uid=${tag.owner.uid}`,
  ];
  return prefix + fields.join(",");
}

export function parseTag(comment: string | undefined): CopyTag | undefined {
  const line = comment?.split("\n").find((l) => l.startsWith(prefix));
  if (line === undefined) return undefined;
  const fields = new Map<string, string>();
  for (const pair of line.slice(prefix.length).split(",")) {
    const at = pair.indexOf("=");
    if (at > 0) fields.set(pair.slice(0, at), pair.slice(at + 1));
  }
  const kind = fields.get("kind");
  const source = fields.get("source");
  const namespace = fields.get("ns");
  const name = fields.get("name");
  const uid = fields.get("uid");
  if (
    (kind !== "virtual" && kind !== "physical") ||
    source === undefined ||
    namespace === undefined ||
    name === undefined ||
    uid === undefined
  ) {
    return undefined;
  }
  return {
    kind: kind === "virtual" ? "Virtual" : "Physical",
    source,
    online: fields.get("online") === "1",
    saveSnapshot: fields.get("save") === "1",
    owner: { namespace, name, uid },
  };
}

/** The comment with our tag set, other lines kept. */
export function withTag(comment: string | undefined, tag: CopyTag): string {
  const others = (comment ?? "").split("\n").filter((l) => l.length > 0 && !l.startsWith(prefix));
  return [...others, formatTag(tag)].join("\n");
}
