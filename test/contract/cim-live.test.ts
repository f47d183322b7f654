// The engine contract against a LIVE SMI-S provider, when ARRAYCOPY_CIM_URL (https://host:5989), _USER and
// _PASSWORD are set (optional: _NAMESPACE, default root/tpd; _INTEROP, default interop; _CA = path to a PEM
// bundle; _INSECURE=1; _POOL = the pool (CPG) volumes are made in, default the first with room). Without them the
// suite is reported skipped. Volumes are made and removed over CIM (volumes.ts); CIM has no data path, so the cases
// that write or check bytes fail against a live provider (docs/cim.md); the clock cannot be moved on a real array
// either. Use a scratch array: names are fixed.
import { readFileSync } from "node:fs";
import { describe } from "vitest";
import { openCimEngine } from "../../operator/src/engine/cim/engine.ts";
import { cimVolumeOps } from "../../operator/src/engine/cim/volumes.ts";
import { engineContract } from "./engine-contract.ts";
import { TestClock } from "./helpers.ts";

const env = process.env;
const url = env.ARRAYCOPY_CIM_URL;
const user = env.ARRAYCOPY_CIM_USER;
const password = env.ARRAYCOPY_CIM_PASSWORD;
const configured = url !== undefined && user !== undefined && password !== undefined;

describe.skipIf(!configured)("live SMI-S provider (ARRAYCOPY_CIM_*)", () => {
  engineContract("cim (live provider)", () => {
    const engine = openCimEngine({
      endpoint: url ?? "",
      user: user ?? "",
      password: password ?? "",
      insecureSkipTLSVerify: env.ARRAYCOPY_CIM_INSECURE === "1",
      logger: (level, message) => {
        console.warn(`[${level}] ${message}`);
      },
      ...(env.ARRAYCOPY_CIM_NAMESPACE === undefined ? {} : { namespace: env.ARRAYCOPY_CIM_NAMESPACE }),
      ...(env.ARRAYCOPY_CIM_INTEROP === undefined ? {} : { interopNamespace: env.ARRAYCOPY_CIM_INTEROP }),
      ...(env.ARRAYCOPY_CIM_CA === undefined ? {} : { caBundle: readFileSync(env.ARRAYCOPY_CIM_CA, "utf8") }),
      volumes: (access) =>
        cimVolumeOps(access, env.ARRAYCOPY_CIM_POOL === undefined ? {} : { pool: env.ARRAYCOPY_CIM_POOL }),
    });
    return Promise.resolve({ engine, clock: new TestClock(), remote: true, dispose: () => engine.close() });
  });
});
