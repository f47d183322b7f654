// The engine contract against a LIVE array, when ARRAYCOPY_WSAPI_URL, _USER, _PASSWORD and _CPG are set
// (optional: _SNAP_CPG, _CA = path to a PEM bundle, _INSECURE=1). Without them the suite is reported skipped.
// Volumes are created in the CPG over WSAPI and deleted by the cases; WSAPI has no data path, so reading and
// writing volume data is Unsupported here and the cases that check bytes fail (see docs/wsapi.md). The clock
// cannot be moved on a real array: cases that move it fail or are skipped. Use a scratch CPG: names are fixed.
import { readFileSync } from "node:fs";
import { describe } from "vitest";
import { EngineError } from "../../operator/src/engine/errors.ts";
import { openWsapiEngine } from "../../operator/src/engine/wsapi/engine.ts";
import { wsapiVolumes } from "../../operator/src/engine/wsapi/volumes.ts";
import { engineContract } from "./engine-contract.ts";
import { TestClock } from "./helpers.ts";

const env = process.env;
const url = env.ARRAYCOPY_WSAPI_URL;
const user = env.ARRAYCOPY_WSAPI_USER;
const password = env.ARRAYCOPY_WSAPI_PASSWORD;
const cpg = env.ARRAYCOPY_WSAPI_CPG;
const configured = url !== undefined && user !== undefined && password !== undefined && cpg !== undefined;

const noData = (): Promise<never> =>
  Promise.reject(
    new EngineError("cannot move data over WSAPI: a live array has no data path here", { code: "Unsupported" }),
  );

describe.skipIf(!configured)("live array (ARRAYCOPY_WSAPI_*)", () => {
  engineContract("wsapi (live array)", () => {
    const snapCPG = env.ARRAYCOPY_WSAPI_SNAP_CPG;
    const engine = openWsapiEngine({
      endpoint: url ?? "",
      user: user ?? "",
      password: password ?? "",
      cpg: cpg ?? "",
      insecureSkipTLSVerify: env.ARRAYCOPY_WSAPI_INSECURE === "1",
      logger: (level, message) => {
        console.warn(`[${level}] ${message}`);
      },
      ...(env.ARRAYCOPY_WSAPI_CA === undefined ? {} : { caBundle: readFileSync(env.ARRAYCOPY_WSAPI_CA, "utf8") }),
      ...(snapCPG === undefined ? {} : { snapCPG }),
      volumes: (api) => wsapiVolumes(api, cpg ?? "", snapCPG, { read: noData, write: noData }),
    });
    return Promise.resolve({ engine, clock: new TestClock(), remote: true, dispose: () => engine.close() });
  });
});
