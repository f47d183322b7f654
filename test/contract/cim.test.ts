// Runs the engine contract against the cim driver talking CIM-XML over HTTPS to the CIM test array
// (test/cim-server), which keeps its data in an embedded engine with the suite's movable clock. The driver
// verifies the test array's self-signed certificate through caBundle. Volumes and their data are reached on the
// test array's engine directly (CIM has no data path): that is test-only.
// Beside the contract, the bad input of issue 16 that the driver alone decides: wrong credentials, a missing
// namespace, a provider without Copy Services, and methods that return 4, 5 or 6.
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { openEmbeddedEngine } from "../../operator/src/engine/embedded/engine.ts";
import { openCimEngine, type CimEngineOptions } from "../../operator/src/engine/cim/engine.ts";
import { cimVolumeOps, type CimVolumeOptions } from "../../operator/src/engine/cim/volumes.ts";
import type { Engine } from "../../operator/src/engine/port.ts";
import { startCimTestArray, type CimTestArray, type CimTestArrayOptions } from "../cim-server/server.ts";
import { engineContract } from "./engine-contract.ts";
import { MiB, owner, refusal, TestClock } from "./helpers.ts";

interface Setup {
  readonly engine: Engine;
  readonly array: CimTestArray;
  readonly clock: TestClock;
  dispose(): Promise<void>;
}

async function setUp(
  arrayOptions: Partial<CimTestArrayOptions> = {},
  driver: Partial<CimEngineOptions> = {},
): Promise<Setup> {
  const dir = await mkdtemp(join(tmpdir(), "arraycopy-cim-"));
  const clock = new TestClock();
  const backing = await openEmbeddedEngine({ dataDir: dir, clock, expiryIntervalMs: 0 });
  const array = await startCimTestArray({ engine: backing, ...arrayOptions });
  const engine = openCimEngine({
    endpoint: array.url,
    user: array.user,
    password: array.password,
    caBundle: array.ca,
    pollIntervalMs: 20,
    volumes: () => backing.volumes,
    ...driver,
  });
  return {
    engine,
    array,
    clock,
    dispose: async () => {
      await engine.close();
      await array.close();
      await backing.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

engineContract("cim (test array)", async () => {
  const s = await setUp();
  return { engine: s.engine, clock: s.clock, remote: true, dispose: () => s.dispose() };
});

describe("cim: bad input gets a named reason and changes nothing", () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await s?.dispose();
    s = undefined;
  });
  const snap = (e: Engine) => e.createVirtualCopy({ name: "snap", source: "base", readOnly: true, owner: owner() });

  it("wrong credentials: AccessDenied, final, and later calls do not reach the provider", async () => {
    s = await setUp({}, { password: "wrong" });
    const e = await refusal(() => snap(s?.engine as Engine));
    expect([e.code, e.kind]).toEqual(["AccessDenied", "final"]);
    expect(e.message).toMatch(/wrong user name or password \(HTTP 401\)/);
    const before = s.array.requests.length;
    await refusal(() => snap(s?.engine as Engine));
    expect(s.array.requests.length).toBe(before);
  });

  it("a namespace that does not exist is named", async () => {
    s = await setUp({}, { namespace: "root/nowhere" });
    const e = await refusal(() => snap(s?.engine as Engine));
    expect([e.code, e.kind]).toEqual(["InvalidInput", "final"]);
    expect(e.message).toMatch(/the CIM namespace root\/nowhere does not exist/);
  });

  it("a provider without the Copy Services profile is Unsupported and says what it registers", async () => {
    s = await setUp({ profiles: ["Array", "Block Services"] });
    const e = await refusal(() => snap(s?.engine as Engine));
    expect(e.code).toBe("Unsupported");
    expect(e.message).toMatch(/does not register the Copy Services profile \(it registers Array, Block Services\)/);
  });

  it("a provider with Copy Services but not Replication Services claims no online copies once discovered", async () => {
    s = await setUp({ profiles: ["Copy Services", "Array"] });
    await s.engine.listCopies();
    const caps = s.engine.capabilities();
    expect([caps.physicalCopies, caps.onlinePhysicalCopies, caps.virtualCopies]).toEqual([true, false, true]);
    await s.array.engine.volumes.createVolume("base", MiB);
    const request = { name: "online", source: "base", online: true, saveSnapshot: false, owner: owner("online") };
    const e = await refusal(() => (s?.engine as Engine).createPhysicalCopy(request));
    expect(e.code).toBe("Unsupported");
    expect(e.message).toMatch(/does not register Replication Services: no online copies/);
    expect((await s.array.engine.listVolumes()).map((v) => v.name)).toEqual(["base"]);
  });

  for (const [code, port, name] of [
    [4, "Internal", "Failed"],
    [5, "InvalidInput", "Invalid Parameter"],
    [6, "InUse", "In Use"],
  ] as const) {
    it(`a method returning ${code} ${name} is ${port}, final, and leaves nothing`, async () => {
      s = await setUp();
      await s.array.engine.volumes.createVolume("base", MiB);
      s.array.faults.method.set("CreateReplica", code);
      const e = await refusal(() => snap(s?.engine as Engine));
      expect([e.code, e.kind]).toEqual([port, "final"]);
      expect(e.message).toBe(`cannot create virtual copy snap: CreateReplica returned ${code} ${name}`);
      expect((await s.array.engine.listVolumes()).map((v) => v.name)).toEqual(["base"]);
    });
  }
});

// The volume operations a live provider's suite uses (volumes.ts): made and removed over CIM, in a pool, with
// what is refused said; never a delete of a volume that holds an owner tag.
describe("cim: volumes made over CIM (CreateOrModifyElementFromStoragePool)", () => {
  let s: Setup | undefined;
  afterEach(async () => {
    await s?.dispose();
    s = undefined;
  });
  const withOps = async (options: CimVolumeOptions = {}) => {
    s = await setUp({}, { volumes: (access) => cimVolumeOps(access, options) });
    const ops = s.engine.volumes;
    if (ops === undefined) throw new Error("no volume ops");
    return { ops, array: s.array };
  };

  it("makes a volume of the size asked in the first pool with room, grows it, and returns it to the pool", async () => {
    const { ops, array } = await withOps();
    const made = await ops.createVolume("live-a", 8 * MiB);
    expect(made).toMatchObject({ name: "live-a", sizeBytes: 8 * MiB, copyOf: undefined });
    expect((await array.engine.listVolumes()).map((v) => [v.name, v.sizeBytes])).toEqual([["live-a", 8 * MiB]]);
    expect(array.requests).toContain("CreateOrModifyElementFromStoragePool");
    expect((await ops.resizeVolume("live-a", 16 * MiB)).sizeBytes).toBe(16 * MiB);
    const shrink = await refusal(() => ops.resizeVolume("live-a", 4 * MiB));
    expect([shrink.code, shrink.message]).toEqual(["InvalidInput", expect.stringMatching(/volumes only grow/)]);
    expect((await ops.listVolumes()).map((v) => v.name)).toEqual(["live-a"]);
    await ops.deleteVolume("live-a");
    expect(array.deleted).toEqual(["live-a"]);
    expect(await array.engine.listVolumes()).toEqual([]);
    // Deleting what is not there is done already, and sends nothing.
    await ops.deleteVolume("live-a");
    expect(array.deleted).toEqual(["live-a"]);
  });

  it("uses the pool named, and says which pools there are when it has no room or no such name", async () => {
    const { ops } = await withOps({ pool: "SSD_r1" });
    await ops.createVolume("small", 32 * MiB);
    const full = await refusal(() => ops.createVolume("too-big", 48 * MiB));
    expect(full.message).toMatch(/cannot create volume too-big: CreateOrModifyElementFromStoragePool returned 4/);
    await s?.dispose();
    const other = await withOps({ pool: "nowhere" });
    const e = await refusal(() => other.ops.createVolume("x", MiB));
    expect(e.code).toBe("InvalidInput");
    expect(e.message).toMatch(/no storage pool is called nowhere \(pools: FC_r6 \(\d+ bytes free\), SSD_r1/);
    expect(await other.array.engine.listVolumes()).toEqual([]);
  });

  it("refuses a name in use, and never deletes a volume that is someone's copy", async () => {
    const { ops, array } = await withOps();
    await ops.createVolume("base", 4 * MiB);
    const again = await refusal(() => ops.createVolume("base", 4 * MiB));
    expect(again.code).toBe("AlreadyExists");
    await s?.engine.createVirtualCopy({ name: "snap", source: "base", readOnly: true, owner: owner("snap") });
    const e = await refusal(() => ops.deleteVolume("snap"));
    expect([e.code, e.message]).toEqual(["InUse", expect.stringMatching(/is the copy of default\/snap/)]);
    expect(array.deleted).toEqual([]);
    expect((await array.engine.listVolumes()).map((v) => v.name).sort()).toEqual(["base", "snap"]);
    // No data path: reads and writes are refused, not faked.
    expect((await refusal(() => ops.readVolume("base", 0, 512))).code).toBe("Unsupported");
    expect((await refusal(() => ops.writeVolume("base", 0, Buffer.alloc(512)))).code).toBe("Unsupported");
  });
});
