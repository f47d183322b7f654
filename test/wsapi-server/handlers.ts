// The test array's endpoints (DOMAIN.md §3.2), each a function of the array state and the request, backed by the
// embedded engine so data is real. EngineErrors become WSAPI errors in errors.ts; refusals the array makes
// itself (a name taken, a missing parameter) are thrown as Refusal with their documented code and status.
import type { CopyPriority } from "../../operator/src/engine/port.ts";
import { renderTask, renderVolume } from "./render.ts";
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
const owner = (): { namespace: string; name: string; uid: string } => ({ namespace: "wsapi-test-array", name: "array", uid: `create-${++creates}` });

async function exists(state: ArrayState, name: string): Promise<boolean> {
  return (await state.engine.listVolumes()).some((v) => v.name === name);
}

export async function getVolume(state: ArrayState, name: string): Promise<Body> {
  const v = (await state.engine.listVolumes()).find((x) => x.name === name);
  if (v === undefined) throw new Refusal(404, 23, `volume ${name} not found`);
  return renderVolume(state, v, await state.engine.observeCopy(name));
}

export async function listVolumes(state: ArrayState, query: string | null): Promise<Reply> {
  const all = await state.engine.listVolumes();
  const members = await Promise.all(all.map(async (v) => renderVolume(state, v, await state.engine.observeCopy(v.name))));
  // The one query form the driver uses: copyOf EQ <name> (quotes optional).
  const m = query === null ? null : /copyOf EQ "?([^"]+)"?/.exec(query);
  const filtered = m === null ? members : members.filter((v) => v.copyOf === m[1]);
  return { status: 200, body: { total: filtered.length, members: filtered } };
}

export async function createVolume(state: ArrayState, body: Body): Promise<Reply> {
  const { name, cpg, sizeMiB } = body;
  if (typeof name !== "string" || typeof cpg !== "string" || typeof sizeMiB !== "number") throw new Refusal(400, 12, "name, cpg and sizeMiB are required");
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
    return { status: 200 };
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
  if (!online && existing?.kind === "Physical" && existing.source === source && existing.synchronization !== undefined) {
    const job = await state.engine.startJob({ copy: dest, operation: "StartCopy", ...(prio === undefined ? {} : { priority: prio }) });
    state.tasks.set(Number(job.id), { id: Number(job.id), type: 1, name: dest });
    return { status: 200, body: { taskid: Number(job.id) } };
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
  if (online) state.created.set(dest, state.clock.now());
  state.tasks.set(Number(job.id), { id: Number(job.id), type: online ? 18 : 1, name: dest });
  return { status: 200, body: { taskid: Number(job.id) } };
}

export async function modifyVolume(state: ArrayState, name: string, body: Body): Promise<Reply> {
  if (!(await exists(state, name))) throw new Refusal(404, 23, `volume ${name} not found`);
  const action = body.action;
  if (action === undefined) {
    if (typeof body.comment === "string") state.comments.set(name, body.comment);
    return { status: 200 };
  }
  const copy = await state.engine.observeCopy(name);
  switch (action) {
    case 1: {
      // STOP_PHYSICAL_COPY: halts a running copy; on a finished associated copy it breaks the association.
      if (copy?.activeJob !== undefined) await state.engine.halt({ copy: name });
      else if (copy?.kind === "Physical" && copy.synchronization !== undefined) await state.engine.startJob({ copy: name, operation: "Detach" });
      else throw new Refusal(404, 9002, `${name} is not a physical copy`);
      return { status: 200 };
    }
    case 2:
      return started(state, name, 2, await state.engine.startJob({ copy: name, operation: "Resync" }));
    case 3: {
      const grow = body.sizeMiB;
      if (typeof grow !== "number") throw new Refusal(400, 12, "sizeMiB is required");
      const v = (await state.engine.listVolumes()).find((x) => x.name === name);
      await state.engine.resizeVolume(name, (v?.sizeBytes ?? 0) + grow * MiB);
      return { status: 200 };
    }
    case 4: {
      if (body.online === true && body.priority !== undefined) throw new Refusal(409, 44, "online and priority conflict");
      const prio = priority(body.priority);
      return started(state, name, 4, await state.engine.startJob({ copy: name, operation: "Restore", ...(prio === undefined ? {} : { priority: prio }) }));
    }
    case 5: {
      if (copy?.kind !== "Virtual" || copy.activeJob === undefined) throw new Refusal(409, 185, `no promote is running on ${name}`);
      await state.engine.halt({ copy: name });
      return { status: 200 };
    }
    default:
      throw new Refusal(400, 46, `action ${JSON.stringify(action)} is not supported by the test array`);
  }
}

function started(state: ArrayState, name: string, type: number, job: { id: string }): Reply {
  const id = Number(job.id);
  state.tasks.set(id, { id, type, name });
  return { status: 200, body: { taskid: id } };
}

export async function deleteVolume(state: ArrayState, name: string): Promise<Reply> {
  if (!(await exists(state, name))) throw new Refusal(404, 23, `volume ${name} not found`);
  await state.engine.deleteVolume(name);
  state.forget(name);
  return { status: 200 };
}

export async function getTask(state: ArrayState, id: number): Promise<Body> {
  const record = state.tasks.get(id);
  const job = record === undefined ? undefined : await state.engine.observeJob(String(id));
  if (record === undefined || job === undefined) throw new Refusal(404, 145, `task ${id} not found`);
  return renderTask(record, job);
}

export async function listTasks(state: ArrayState): Promise<Reply> {
  const members: Body[] = [];
  for (const record of state.tasks.values()) {
    const job = await state.engine.observeJob(String(record.id));
    if (job !== undefined) members.push(renderTask(record, job));
  }
  return { status: 200, body: { total: members.length, members } };
}

export async function cancelTask(state: ArrayState, id: number, body: Body): Promise<Reply> {
  if (body.action !== 1) throw new Refusal(400, 46, "only action 1 (cancel) is supported");
  const task = await getTask(state, id);
  if (task.status !== 2) throw new Refusal(400, 9014, `task ${id} is not active`);
  await state.engine.halt({ job: String(id) });
  return { status: 200 };
}
