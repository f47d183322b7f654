// VirtualCopyGroup decisions: a pure function from what was gathered to what to do — one group create (every
// member at one point in time, or none), or the deletion of the member copies that are ours, plus the finalizer
// patches around them.
//
// Invariants:
// - Nothing is created on the array before the finalizer and (on an engine whose creates may land late) the create
//   intent are on the object.
// - The member copies are named from the UID (groupNamePrefix + index), so a retry, a crash or a second replica asks
//   for the same copies and the engine returns them instead of making a second set.
// - A member copy is deleted only when its owner tag names this group (namespace, name and UID), checked here on
//   what the engine observed; the engine checks the tag again before it deletes.
// - A group whose create failed for good is Broken and is never made again (its copies would be of another point
//   in time than the user asked for); whatever copies of it the array holds are deleted, so nothing leaks.
// - A group that was made and has lost members is not re-made either: it is Lost (or Expired, all at once).
import type { Capabilities, CopyObservation, CreateGroupVirtualCopyRequest } from "../../engine/port.ts";
import { sameOwner } from "../../engine/ownership.ts";
import { findCondition } from "../../kube/conditions.ts";
import { hasFinalizer, isDeleting } from "../../kube/finalizers.ts";
import { classOf, type Blocked, type Link } from "../shared/connect.ts";
import { groupNamePrefix, ownerTag } from "../shared/naming.ts";
import {
  copyFinalizer,
  createIntentAnnotation,
  intentTime,
  type Meta,
  type VirtualCopyGroupObject,
} from "../shared/objects.ts";
import type { SourceReason } from "../shared/sources.ts";

/** How long after a create was requested its outcome may still be uncertain (a request that timed out). */
export const uncertaintyWindowMs = 2 * 60_000;

/** A member to copy: its array volume, and the claim it was resolved from. */
export interface Member {
  readonly volume: string;
  readonly claim?: string | undefined;
}

export type MemberResolution =
  | { readonly ok: true; readonly members: readonly Member[]; readonly volumeSet?: string | undefined }
  | { readonly ok: false; readonly reason: SourceReason | "InvalidMembers"; readonly message: string };

export interface Gathered {
  readonly group: VirtualCopyGroupObject;
  readonly now: number;
  /** Class → engine → the array's copies named with the group's prefix (whoever owns them), in index order. */
  readonly link: Link<readonly CopyObservation[]>;
  /** Resolved only while the copies are still to be made. */
  readonly members?: MemberResolution | undefined;
  /** The newest finished Restore CopyJob of the group, when it failed: its name and why. */
  readonly restoreFailed?: { readonly job: string; readonly message: string } | undefined;
}

export type Plan =
  | { readonly kind: "blocked"; readonly blocked: Blocked }
  | { readonly kind: "unsupported"; readonly message: string }
  | {
      readonly kind: "waitForMembers";
      readonly reason: SourceReason | "InvalidMembers";
      readonly message: string;
      readonly addFinalizer: boolean;
    }
  | {
      readonly kind: "create";
      readonly request: CreateGroupVirtualCopyRequest;
      readonly members: readonly Member[];
      readonly addFinalizer: boolean;
      readonly recordIntent: boolean;
    }
  | { readonly kind: "exists"; readonly copies: readonly CopyObservation[] }
  /** Created once; `missing` member copies are gone (all of them at their expiration time: expired). */
  | { readonly kind: "gone"; readonly copies: readonly CopyObservation[]; readonly missing: readonly string[] }
  /** The create failed for good: delete what the array holds of it (nothing left: `copies` is empty). */
  | { readonly kind: "cleanup"; readonly copies: readonly CopyObservation[] }
  | { readonly kind: "delete"; readonly copies: readonly CopyObservation[] }
  | { readonly kind: "wait"; readonly ms: number }
  | { readonly kind: "release"; readonly why: "Retain" | "Absent" }
  | { readonly kind: "none" };

/** The plans that end with the finalizer off (after their engine calls, if any, succeeded). */
export function releases(plan: Plan): boolean {
  return plan.kind === "release" || plan.kind === "delete";
}

export function namePrefixOf(group: VirtualCopyGroupObject): string {
  return groupNamePrefix(group.metadata.uid);
}

/** True once the member copies were seen created. */
export function wasCreated(group: VirtualCopyGroupObject): boolean {
  return group.status?.creationTime !== undefined;
}

/** The create failed for good before: the Ready condition says Broken and nothing was ever created. */
export function failedForGood(group: VirtualCopyGroupObject): boolean {
  return !wasCreated(group) && findCondition(group.status?.conditions, "Ready")?.reason === "Broken";
}

/** The copies whose owner tag names this group: the only ones it adopts or deletes. */
export function ownCopies(copies: readonly CopyObservation[], meta: Meta): CopyObservation[] {
  const me = ownerTag(meta);
  return copies.filter((c) => sameOwner(c.owner, me));
}

export function deletionPolicyOf(g: Gathered): "Delete" | "Retain" {
  return g.group.spec.deletionPolicy ?? classOf(g.link)?.spec.deletionPolicy ?? "Delete";
}

export function decide(g: Gathered): Plan {
  return isDeleting(g.group.metadata) ? decideDeletion(g) : decideCreation(g);
}

function decideCreation(g: Gathered): Plan {
  const { group, link } = g;
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  const own = ownCopies(link.observed, group.metadata);
  if (wasCreated(group)) {
    const names = new Set(own.map((c) => c.name));
    const missing = (group.status?.members ?? []).map((m) => m.arrayName).filter((n) => !names.has(n));
    return missing.length === 0 ? { kind: "exists", copies: own } : { kind: "gone", copies: own, missing };
  }
  if (failedForGood(group)) return { kind: "cleanup", copies: own };
  const missingCapability = unsupported(group, link.capabilities);
  if (missingCapability !== undefined) return { kind: "unsupported", message: missingCapability };
  const addFinalizer = !hasFinalizer(group.metadata, copyFinalizer);
  const members = g.members;
  // gather resolves the members whenever the copies are still to be made; their absence here is a bug.
  if (members === undefined) throw new Error(`VirtualCopyGroup ${group.metadata.name}: members were not resolved`);
  if (!members.ok) return { kind: "waitForMembers", reason: members.reason, message: members.message, addFinalizer };
  const { spec } = group;
  const request: CreateGroupVirtualCopyRequest = {
    namePrefix: namePrefixOf(group),
    sources: members.members.map((m) => m.volume),
    readOnly: spec.readOnly,
    owner: ownerTag(group.metadata),
    ...(members.volumeSet === undefined ? {} : { volumeSet: members.volumeSet }),
    ...(spec.expirationHours === undefined ? {} : { expirationHours: spec.expirationHours }),
    ...(spec.retentionHours === undefined ? {} : { retentionHours: spec.retentionHours }),
  };
  // The intent bounds how long a deletion waits for a create that may still land; an engine whose creates cannot
  // land late (the embedded one) needs none, and the copy goes Ready without a metadata write.
  const recordIntent =
    link.capabilities.createsMayLandLate && group.metadata.annotations?.[createIntentAnnotation] === undefined;
  return { kind: "create", request, members: members.members, addFinalizer, recordIntent };
}

/** What the group asks of the engine that it cannot do, in words; undefined when it can do all of it. */
function unsupported(group: VirtualCopyGroupObject, caps: Capabilities): string | undefined {
  if (!caps.groupVirtualCopies)
    return "the class's engine does not make group virtual copies (copies of several volumes at one point in time)";
  if (group.spec.expirationHours !== undefined && !caps.expiration)
    return "the class's engine cannot expire copies: remove spec.expirationHours";
  if (group.spec.retentionHours !== undefined && !caps.retention)
    return "the class's engine cannot retain copies: remove spec.retentionHours";
  const longest = `${namePrefixOf(group)}99`.length;
  if (longest > caps.maxNameLength) return `the class's engine takes names of at most ${caps.maxNameLength} characters`;
  return undefined;
}

function decideDeletion(g: Gathered): Plan {
  const { group, link } = g;
  if (!hasFinalizer(group.metadata, copyFinalizer)) return { kind: "none" };
  if (deletionPolicyOf(g) === "Retain") return { kind: "release", why: "Retain" };
  // Without an engine we cannot know whether member copies exist: keep the finalizer (never leak).
  if (!link.ok) return { kind: "blocked", blocked: link.blocked };
  const own = ownCopies(link.observed, group.metadata);
  if (own.length > 0) return { kind: "delete", copies: own };
  const ms = uncertainRemainingMs(g);
  return ms > 0 ? { kind: "wait", ms } : { kind: "release", why: "Absent" };
}

/** Milliseconds left before an unconfirmed create can no longer land; 0 when none is pending. */
function uncertainRemainingMs(g: Gathered): number {
  if (wasCreated(g.group) || failedForGood(g.group)) return 0;
  const requested = intentTime(g.group.metadata, createIntentAnnotation);
  if (requested === undefined) return 0;
  return Math.max(0, requested + uncertaintyWindowMs - g.now);
}
