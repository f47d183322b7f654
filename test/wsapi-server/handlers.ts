// The test array's endpoints (DOMAIN.md §3.2), each a function of the array state and the request, backed by the
// embedded engine so data is real. EngineErrors become WSAPI errors in errors.ts; refusals the array makes
// itself (a name taken, a missing parameter) are thrown as Refusal with their documented code and status.
import { arrayError } from "../../operator/src/engine/errors.ts";
import type { CopyPriority, OwnerTag } from "../../operator/src/engine/port.ts";
import {
  foreignTasks,
  idOut,
  malformedTask,
  malformedVolume,
  renderInternal,
  renderTask,
  renderVolume,
} from "./render.ts";
import type { ArrayState } from "./state.ts";

export class Refusal extends Error {
  readonly status: number;
  readonly code: number;
  constructor(status: number, code: number, desc: string) {
    super(desc);
    this.status = status;
    this.code = code;
  }
}

export interface Reply {
  readonly status: number;
  readonly body?: unknown;
}

const MiB = 1024 * 1024;
type Body = Record<string, unknown>;

function priority(n: unknown): CopyPriority | undefined {
  if (n === undefined) return undefined;
  if (n === 1) return "High";
  if (n === 2) return "Same";
  if (n === 3) return "Low";
  throw new Refusal(400, 46, `priority ${JSON.stringify(n)} is not 1, 2 or 3`);
}

// The array has no owners: every create is new (the driver keeps ownership in the comment), so each engine
// create gets its own uid and the embedded engine's idempotency never answers for the array.
let creates = 0;
const owner = (): { namespace: string; name: string; uid: string } => ({
  namespace: "wsapi-test-array",
  name: "array",
  uid: `create-${++creates}`,
});

async function exists(state: ArrayState, name: string): Promise<boolean> {
  return state.internal.has(name) || (await state.engine.listVolumes()).some((v) => v.name === name);
}

/** The owner the backing engine knows the copy by (the array itself has no owners: see owner() above). */
async function engineOwner(state: ArrayState, copy: string): Promise<OwnerTag> {
  const seen = await state.engine.observeCopy(copy);
  if (seen === undefined) throw new Refusal(404, 23, `volume ${copy} not found`);
  return seen.owner;
}

/** What a write whose documented answer is empty answers: nothing, or (lenientBodies) a body some servers send. */
function empty(state: ArrayState, status: number, path: string): Reply {
  return state.quirks.lenientBodies
    ? { status, body: { links: [{ href: `/api/v1/${path}`, rel: "self" }] } }
    : { status };
}

export async function getVolume(state: ArrayState, name: string): Promise<Body> {
  const snap = state.internal.get(name);
  if (snap !== undefined) return renderInternal(state, snap);
  const v = (await state.engine.listVolumes()).find((x) => x.name === name);
  if (v === undefined) throw new Refusal(404, 23, `volume ${name} not found`);
  return renderVolume(state, v, await state.engine.observeCopy(name));
}

export async function listVolumes(state: ArrayState, query: string | null): Promise<Reply> {
  const all = await state.engine.listVolumes();
  const members: Body[] = await Promise.all(
    all.map(async (v) => renderVolume(state, v, await state.engine.observeCopy(v.name))),
  );
  for (const snap of state.internal.values()) members.push(renderInternal(state, snap));
  // The one query form HPE's client sends: "copyOf EQ <name>", in double quotes (ignored with ignoreQueries).
  const m = query === null || state.quirks.ignoreQueries ? null : /^"copyOf EQ ([^"]+)"$/.exec(query);
  if (query !== null && !state.quirks.ignoreQueries && m === null)
    throw new Refusal(400, 12, `query ${query} is not understood`);
  const filtered = m === null ? members : members.filter((v) => v.copyOf === m[1]);
  if (state.quirks.malformedRecord) filtered.splice(Math.min(1, filtered.length), 0, { ...malformedVolume });
  return { status: 200, body: { total: filtered.length, members: filtered } };
}

export async function createVolume(state: ArrayState, body: Body): Promise<Reply> {
  const { name, cpg, sizeMiB } = body;
  if (typeof name !== "string" || typeof cpg !== "string" || typeof sizeMiB !== "number")
    throw new Refusal(400, 12, "name, cpg and sizeMiB are required");
  await state.engine.createVolume(name, sizeMiB * MiB);
  state.created.set(name, state.clock.now());
  return { status: 201 };
}

export async function volumeAction(state: ArrayState, source: string, body: Body): Promise<Reply> {
  const p = (body.parameters ?? {}) as Body;
  if (body.action === "createSnapshot") {
    const name = p.name;
    if (typeof name !== "string") throw new Refusal(400, 12, "parameters.name is required");
    if (await exists(state, name)) throw new Refusal(409, 22, `volume ${name} exists`);
    await state.engine.createVirtualCopy({
      name,
      source,
      readOnly: p.readOnly === true,
      ...(typeof p.expirationHours === "number" ? { expirationHours: p.expirationHours } : {}),
      ...(typeof p.retentionHours === "number" ? { retentionHours: p.retentionHours } : {}),
      owner: owner(),
    });
    if (typeof p.comment === "string") state.comments.set(name, p.comment);
    return state.quirks.lenientBodies
      ? { status: 200, body: { name, links: [{ href: `/api/v1/volumes/${name}`, rel: "self" }] } }
      : { status: 200 };
  }
  if (body.action === "createPhysicalCopy") return physicalCopy(state, source, p);
  throw new Refusal(400, 12, `unknown action ${String(body.action)}`);
}

async function physicalCopy(state: ArrayState, source: string, p: Body): Promise<Reply> {
  const dest = p.destVolume;
  if (typeof dest !== "string") throw new Refusal(400, 12, "parameters.destVolume is required");
  const online = p.online === true;
  if (online && typeof p.destCPG !== "string") throw new Refusal(400, 12, "destCPG is required for an online copy");
  if (online && p.tpvv !== true && p.reduce !== true) throw new Refusal(400, 78, "one of tpvv or reduce is required");
  const prio = priority(p.priority);
  const existing = await state.engine.observeCopy(dest);
  // createvvcopy -p src -s dst onto an associated copy is "start copy" (DOMAIN.md §2.2).
  if (
    !online &&
    existing?.kind === "Physical" &&
    existing.source === source &&
    existing.synchronization !== undefined
  ) {
    const job = await state.engine.startJob({
      copy: dest,
      owner: existing.owner,
      operation: "StartCopy",
      ...(prio === undefined ? {} : { priority: prio }),
    });
    return started(state, dest, 1, job);
  }
  if (online && (await exists(state, dest))) throw new Refusal(409, 22, `volume ${dest} exists`);
  const { job } = await state.engine.createPhysicalCopy({
    name: dest,
    source,
    online,
    saveSnapshot: p.saveSnapshot === true,
    ...(prio === undefined ? {} : { priority: prio }),
    owner: owner(),
  });
  if (online) {
    state.created.set(dest, state.clock.now());
    await internalSnapshots(state, source, dest, Number(job.id));
  }
  return started(state, dest, online ? 18 : 1, job);
}

/** An online copy goes through a RO snapshot of its source and a RW snapshot of that, as on the array. */
async function internalSnapshots(state: ArrayState, source: string, dest: string, task: number): Promise<void> {
  const v = (await state.engine.listVolumes()).find((x) => x.name === source);
  const sizeMiB = Math.ceil((v?.sizeBytes ?? 0) / MiB);
  const created = state.clock.now();
  const ro = { name: `ocp-${task}-ro`, copyOf: source, readOnly: true, sizeMiB, created, task };
  const rw = { name: `ocp-${task}-rw`, copyOf: ro.name, readOnly: false, sizeMiB, created, task };
  state.internal.set(ro.name, ro);
  state.internal.set(rw.name, rw);
  state.chainOf.set(dest, rw.name);
}

export async function modifyVolume(state: ArrayState, name: string, body: Body): Promise<Reply> {
  if (!(await exists(state, name))) throw new Refusal(404, 23, `volume ${name} not found`);
  const action = body.action;
  const path = `volumes/${name}`;
  if (action === undefined) {
    if (typeof body.comment === "string") state.comments.set(name, body.comment);
    return empty(state, 200, path);
  }
  const copy = await state.engine.observeCopy(name);
  switch (action) {
    case 1: {
      // STOP_PHYSICAL_COPY: halts a running copy; on a finished associated copy it breaks the association.
      if (copy?.activeJob !== undefined) await state.engine.halt({ copy: name, owner: copy.owner });
      else if (copy?.kind === "Physical" && copy.synchronization !== undefined)
        await state.engine.startJob({ copy: name, owner: copy.owner, operation: "Detach" });
      else throw new Refusal(404, 9002, `${name} is not a physical copy`);
      return empty(state, 200, path);
    }
    case 2:
      return started(
        state,
        name,
        2,
        await state.engine.startJob({ copy: name, owner: await engineOwner(state, name), operation: "Resync" }),
      );
    case 3: {
      const grow = body.sizeMiB;
      if (typeof grow !== "number") throw new Refusal(400, 12, "sizeMiB is required");
      const v = (await state.engine.listVolumes()).find((x) => x.name === name);
      await state.engine.resizeVolume(name, (v?.sizeBytes ?? 0) + grow * MiB);
      return empty(state, 200, path);
    }
    case 4: {
      if (body.online === true && body.priority !== undefined)
        throw new Refusal(409, 44, "online and priority conflict");
      const prio = priority(body.priority);
      const restore = {
        copy: name,
        owner: await engineOwner(state, name),
        operation: "Restore",
        ...(prio === undefined ? {} : { priority: prio }),
      } as const;
      return started(state, name, 4, await state.engine.startJob(restore));
    }
    case 5: {
      if (copy?.kind !== "Virtual" || copy.activeJob === undefined)
        throw new Refusal(409, 185, `no promote is running on ${name}`);
      await state.engine.halt({ copy: name, owner: copy.owner });
      return empty(state, 200, path);
    }
    default:
      throw new Refusal(400, 46, `action ${JSON.stringify(action)} is not supported by the test array`);
  }
}

function started(state: ArrayState, name: string, type: number, job: { id: string }): Reply {
  const id = Number(job.id);
  state.tasks.set(id, { id, type, name });
  return { status: 200, body: { taskid: idOut(state, id) } };
}

export async function deleteVolume(state: ArrayState, name: string): Promise<Reply> {
  if (!(await exists(state, name))) throw new Refusal(404, 23, `volume ${name} not found`);
  if (state.hasChild(name)) throw new Refusal(409, 32, `volume ${name} has child volumes`);
  if (state.internal.has(name)) state.internal.delete(name);
  else await state.engine.deleteVolume(name);
  state.forget(name);
  state.deleted.push(name);
  return empty(state, 200, `volumes/${name}`);
}

function foreign(state: ArrayState): Body[] {
  return state.quirks.foreignTasks
    ? foreignTasks(
        state,
        [...state.tasks.values()].map((t) => t.name),
      )
    : [];
}

export async function getTask(state: ArrayState, id: number): Promise<Body> {
  const other = foreign(state).find((t) => Number(t.id) === id);
  if (other !== undefined) return other;
  const record = state.tasks.get(id);
  const job = record === undefined ? undefined : await state.engine.observeJob(String(id));
  if (record === undefined || job === undefined) throw new Refusal(404, 145, `task ${id} not found`);
  return renderTask(state, record, job);
}

export async function listTasks(state: ArrayState): Promise<Reply> {
  const members: Body[] = [];
  for (const record of state.tasks.values()) {
    const job = await state.engine.observeJob(String(record.id));
    if (job !== undefined) members.push(renderTask(state, record, job));
  }
  // The array's own tasks come first, so a driver that takes any task named like a copy takes one of them.
  members.unshift(...foreign(state));
  if (state.quirks.malformedRecord) members.splice(1, 0, { ...malformedTask });
  return { status: 200, body: { total: members.length, members } };
}

export async function cancelTask(state: ArrayState, id: number, body: Body): Promise<Reply> {
  if (body.action !== 1) throw new Refusal(400, 46, "only action 1 (cancel) is supported");
  const task = await getTask(state, id);
  if (task.status !== 2) throw new Refusal(400, 9014, `task ${id} is not active`);
  const job = await state.engine.observeJob(String(id));
  if (job === undefined) throw new Refusal(409, 9015, `task ${id} cannot be cancelled`);
  await state.engine.halt({ job: String(id), owner: await engineOwner(state, job.copy) });
  return empty(state, 200, `tasks/${id}`);
}

// Volume sets (WSAPI 1.3 §volume sets): the backing engine keeps them, so a member's deletion is refused (IN_USE)
// there as on the array.
function renderSet(set: { name: string; members: readonly string[] }, id: number): Body {
  return { id, name: set.name, ...(set.members.length === 0 ? {} : { setmembers: [...set.members] }) };
}

export async function getVolumeSet(state: ArrayState, name: string): Promise<Body> {
  const set = await state.engine.observeVolumeSet(name);
  if (set === undefined) throw arrayError("NON_EXISTENT_SET", `volume set ${name} not found`);
  return renderSet(set, state.idOf(`set:${name}`));
}

export async function listVolumeSets(state: ArrayState): Promise<Reply> {
  const members = await Promise.all(state.setNames.map((n) => state.engine.observeVolumeSet(n)));
  const sets = members.filter((s) => s !== undefined).map((s) => renderSet(s, state.idOf(`set:${s.name}`)));
  return { status: 200, body: { total: sets.length, members: sets } };
}

export async function createVolumeSet(state: ArrayState, body: Body): Promise<Reply> {
  const { name, setmembers } = body;
  if (typeof name !== "string") throw new Refusal(400, 12, "name is required");
  const members = Array.isArray(setmembers) ? setmembers.filter((m): m is string => typeof m === "string") : [];
  await state.engine.createVolumeSet(name, members);
  state.setNames.push(name);
  return { status: 201 };
}

export async function deleteVolumeSet(state: ArrayState, name: string): Promise<Reply> {
  if ((await state.engine.observeVolumeSet(name)) === undefined)
    throw arrayError("NON_EXISTENT_SET", `volume set ${name} not found`);
  await state.engine.deleteVolumeSet(name);
  state.setNames.splice(state.setNames.indexOf(name), 1);
  return { status: 200 };
}

/**
 * createSnapshot of a set: one virtual copy per member at one point in time, named by the pattern. The test array
 * knows the pattern the driver sends, a fixed prefix and @count@ (0, 1, … in the set's member order), and refuses
 * others rather than guess what the array would make of them.
 */
export async function volumeSetAction(state: ArrayState, set: string, body: Body): Promise<Reply> {
  const p = (body.parameters ?? {}) as Body;
  if (body.action !== "createSnapshot") throw new Refusal(400, 12, `unknown action ${String(body.action)}`);
  const pattern = p.name;
  if (typeof pattern !== "string") throw new Refusal(400, 12, "parameters.name is required");
  const m = /^([A-Za-z0-9_.-]*)@count@$/.exec(pattern);
  if (m === null) throw new Refusal(400, 12, `name pattern ${pattern} is not supported by the test array`);
  const prefix = m[1] ?? "";
  const found = await state.engine.observeVolumeSet(set);
  if (found === undefined) throw arrayError("NON_EXISTENT_SET", `volume set ${set} not found`);
  if (found.members.length === 0) throw new Refusal(400, 12, `volume set ${set} is empty`);
  for (let i = 0; i < found.members.length; i++)
    if (await exists(state, `${prefix}${i}`)) throw new Refusal(409, 22, `volume ${prefix}${i} exists`);
  const copies = await state.engine.createGroupVirtualCopy({
    namePrefix: prefix,
    sources: found.members,
    volumeSet: set,
    readOnly: p.readOnly === true,
    ...(typeof p.expirationHours === "number" ? { expirationHours: p.expirationHours } : {}),
    ...(typeof p.retentionHours === "number" ? { retentionHours: p.retentionHours } : {}),
    owner: owner(),
  });
  if (typeof p.comment === "string") for (const c of copies) state.comments.set(c.name, p.comment);
  return empty(state, 201, `volumesets/${set}`);
}
