// Group virtual copies over WSAPI: the array snapshots a volume set in one call, all members at one point in time
// (POST /volumesets/<set> createSnapshot, DOMAIN.md §3.2), naming member i by the pattern's @count@ in the set's
// member order. WSAPI has no call that snapshots a list of volumes at one point in time, so a group must be one
// array set: the one the caller names, else one whose members are exactly the group's volumes. With none, the
// driver refuses (Unsupported) rather than make a temporary set: a set is an administrator's object (hosts are
// exported through it, Remote Copy groups are built on it), and a set we made and failed to remove would be left
// behind on the array where our owner tags cannot mark it.
//
// Every member snapshot carries our owner tag with source "@copyOf": the array gives one comment to the whole set
// call, so the tag cannot name each member's source; observe reads it from the snapshot's copyOf.
import { arrayError, EngineError } from "../errors.ts";
import { sameOwner } from "../ownership.ts";
import type { CopyObservation, CreateGroupVirtualCopyRequest, VolumeSetObservation } from "../port.ts";
import type { ArrayApi } from "./array.ts";
import { parseTag, sourceFromCopyOf, withTag, type CopyTag } from "../owner-tag.ts";
import type { VolumeSet } from "./schemas.ts";

type Signal = AbortSignal | undefined;

export function observeSet(set: VolumeSet): VolumeSetObservation {
  return { name: set.name, members: set.setmembers ?? [] };
}

const sameMembers = (members: readonly string[], wanted: ReadonlySet<string>): boolean =>
  members.length === wanted.size && members.every((m) => wanted.has(m));

/** The set to snapshot, in its own member order; refused when the group's volumes are not exactly one set. */
async function setFor(
  api: ArrayApi,
  request: CreateGroupVirtualCopyRequest,
  signal: Signal,
): Promise<VolumeSetObservation> {
  const wanted = new Set(request.sources);
  if (wanted.size !== request.sources.length) throw arrayError("INV_INPUT", "a volume is named twice in the group");
  if (request.volumeSet !== undefined) {
    const named = await api.volumeSet(request.volumeSet, signal);
    if (named === undefined) throw arrayError("NON_EXISTENT_SET", `volume set ${request.volumeSet} not found`);
    const set = observeSet(named);
    if (!sameMembers(set.members, wanted))
      throw arrayError("INV_INPUT", `volume set ${set.name} does not hold exactly the group's volumes`);
    return set;
  }
  const found = (await api.volumeSets(signal)).map(observeSet).filter((s) => sameMembers(s.members, wanted));
  const [only] = found.sort((a, b) => a.name.localeCompare(b.name));
  if (only === undefined) {
    throw new EngineError(
      `volumes ${[...request.sources].sort().join(", ")} are not one volume set on the array: a group copy over ` +
        "WSAPI snapshots a set; make one holding exactly them (createvvset), or name one in the group",
      { code: "Unsupported" },
    );
  }
  return only;
}

/**
 * Creates the group's snapshots, or returns them when they exist already (ours, same sources). Some of them
 * without the rest is no group: refused, EXISTENT_VOL, and the caller cleans up what is ours.
 */
export async function createGroup(
  api: ArrayApi,
  request: CreateGroupVirtualCopyRequest,
  observe: (name: string, signal: Signal) => Promise<CopyObservation>,
  signal: Signal,
): Promise<readonly CopyObservation[]> {
  const set = await setFor(api, request, signal);
  const names = set.members.map((_, i) => `${request.namePrefix}${i}`);
  const existing = await Promise.all(names.map((n) => api.volume(n, signal)));
  const present = existing.filter((v) => v !== undefined);
  if (present.length > 0) {
    const ours = present.every((v, i) => {
      const tag = parseTag(v.comment);
      return tag !== undefined && sameOwner(tag.owner, request.owner) && v.copyOf === set.members[i];
    });
    if (ours && present.length === names.length) return Promise.all(names.map((n) => observe(n, signal)));
    throw arrayError("EXISTENT_VOL", `${present.map((v) => v.name).join(", ")} exist without the rest of the group`);
  }
  const tag: CopyTag = {
    kind: "Virtual",
    source: sourceFromCopyOf,
    online: false,
    saveSnapshot: false,
    owner: request.owner,
  };
  const { expirationHours: exp, retentionHours: ret } = request;
  await api.createSetSnapshot(
    set.name,
    {
      name: `${request.namePrefix}@count@`,
      readOnly: request.readOnly,
      comment: withTag(undefined, tag),
      ...(exp === undefined ? {} : { expirationHours: exp }),
      ...(ret === undefined ? {} : { retentionHours: ret }),
    },
    signal,
  );
  return Promise.all(names.map((n) => observe(n, signal)));
}
