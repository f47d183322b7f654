// Helpers shared by the contract and crash suites: a movable clock, deterministic data patterns, owner tags,
// and waiting for a job to finish by observing it (engines are never asked to block on copies).
import { expect } from "vitest";
import { EngineError } from "../../operator/src/engine/errors.ts";
import type { Engine, JobObservation, VolumeOps } from "../../operator/src/engine/port.ts";
import { finishedJobStates } from "../../operator/src/engine/port.ts";

export const MiB = 1024 * 1024;
export const block = 64 * 1024;

export class TestClock {
  private t = Date.UTC(2030, 0, 1);
  now(): number {
    return this.t;
  }
  advanceHours(hours: number): void {
    this.t += hours * 3_600_000;
  }
}

export const owner = (name = "copy-a", uid = "uid-1") => ({ namespace: "default", name, uid });

/** Bytes that differ for every (seed, position), so misplaced blocks are caught. */
export function pattern(seed: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  let x = (seed * 2_654_435_761) >>> 0 || 1;
  for (let i = 0; i < length; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out.writeUInt32LE(x, i);
  }
  return out;
}

export function volumesOf(engine: Engine): VolumeOps {
  if (engine.volumes === undefined) throw new Error("engine has no volumes capability");
  return engine.volumes;
}

export async function waitForJob(engine: Engine, id: string, timeoutMs = 60_000): Promise<JobObservation> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const job = await engine.observeJob(id);
    if (job === undefined) throw new Error(`job ${id} vanished`);
    if (finishedJobStates.includes(job.jobState)) return job;
    if (Date.now() > until) throw new Error(`job ${id} still ${job.jobState} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs f and returns the EngineError it throws (fails the test if it does not throw one). */
export async function refusal(f: () => Promise<unknown>): Promise<EngineError> {
  try {
    await f();
  } catch (e: unknown) {
    expect(e).toBeInstanceOf(EngineError);
    return e as EngineError;
  }
  throw new Error("expected the engine to refuse");
}

export async function sameBytes(engine: Engine, a: string, b: string, length: number): Promise<boolean> {
  const v = volumesOf(engine);
  for (let at = 0; at < length; at += 8 * MiB) {
    const n = Math.min(8 * MiB, length - at);
    if (!(await v.readVolume(a, at, n)).equals(await v.readVolume(b, at, n))) return false;
  }
  return true;
}
