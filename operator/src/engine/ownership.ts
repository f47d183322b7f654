// Who owns an array object, checked on our side before anything destructive. A delete, halt or job asked of an
// engine names the copy and the owner it must carry; an engine never acts on the word of a name, a query or a
// filter alone (an array, a proxy or a firmware that reads a filter differently must not make us touch a
// volume that is not ours). The owner tag lives in the object itself (the embedded catalog, a WSAPI comment).
import { EngineError } from "./errors.ts";
import type { OwnerTag } from "./port.ts";

export function sameOwner(a: OwnerTag, b: OwnerTag): boolean {
  return a.namespace === b.namespace && a.name === b.name && a.uid === b.uid;
}

function describeOwner(o: OwnerTag): string {
  return `${o.namespace}/${o.name} (uid ${o.uid})`;
}

/** Refuses (NotOwned, final) unless `found` is the owner `expected`; undefined means the object carries no tag. */
export function requireOwner(what: string, found: OwnerTag | undefined, expected: OwnerTag): void {
  if (found !== undefined && sameOwner(found, expected)) return;
  const whose = found === undefined ? "carries no owner tag" : `belongs to ${describeOwner(found)}`;
  throw new EngineError(`${what} is not ${describeOwner(expected)}'s: it ${whose}; nothing was changed`, {
    code: "NotOwned",
  });
}
