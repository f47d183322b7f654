// CIM status codes (DSP0200 ERROR CODE) and extrinsic method return codes (DOMAIN.md §1.3) → EngineErrors.
// When the ERROR element embeds a CIM_Error whose OwningEntity is the array ("TPD") and whose MessageID names a
// 3PAR error symbol, that symbol decides the port code and the array's number (errors.ts arrayErrors), as on WSAPI.
// That 3PAR's CIM server embeds such a CIM_Error is inferred, not confirmed (docs/cim.md): without one the CIM
// status alone decides, and the message says which status it was.
import {
  arrayError,
  arrayErrors,
  EngineError,
  type ArraySymbol,
  type EngineErrorCode,
  type EngineErrorKind,
} from "../errors.ts";
import { plain } from "./model.ts";
import type { CimErrorElement } from "./xml.ts";

/** DSP0200 Table 1 (CIM status codes) → our port code, kind and the name the message shows. */
export const cimStatusCodes: ReadonlyMap<number, { name: string; port: EngineErrorCode; kind?: EngineErrorKind }> =
  new Map([
    [1, { name: "CIM_ERR_FAILED", port: "Internal" }],
    [2, { name: "CIM_ERR_ACCESS_DENIED", port: "AccessDenied" }],
    [3, { name: "CIM_ERR_INVALID_NAMESPACE", port: "InvalidInput" }],
    [4, { name: "CIM_ERR_INVALID_PARAMETER", port: "InvalidInput" }],
    [5, { name: "CIM_ERR_INVALID_CLASS", port: "Unsupported" }],
    [6, { name: "CIM_ERR_NOT_FOUND", port: "NotFound" }],
    [7, { name: "CIM_ERR_NOT_SUPPORTED", port: "Unsupported" }],
    [11, { name: "CIM_ERR_ALREADY_EXISTS", port: "AlreadyExists" }],
    [16, { name: "CIM_ERR_METHOD_NOT_AVAILABLE", port: "Unsupported" }],
    [17, { name: "CIM_ERR_METHOD_NOT_FOUND", port: "Unsupported" }],
    [20, { name: "CIM_ERR_SERVER_LIMITS_EXCEEDED", port: "Busy" }],
    [21, { name: "CIM_ERR_SERVER_IS_SHUTTING_DOWN", port: "Unavailable" }],
  ]);

export const CIM_ERR_NOT_FOUND = 6;

/** Method return codes (DOMAIN.md §1.3; 3PAR CIM312 p.63/65/70). */
export const methodReturn = {
  Completed: 0,
  NotSupported: 1,
  Unspecified: 2,
  Timeout: 3,
  Failed: 4,
  InvalidParameter: 5,
  InUse: 6,
  JobStarted: 4096,
} as const;

function isSymbol(s: unknown): s is ArraySymbol {
  return typeof s === "string" && Object.hasOwn(arrayErrors, s);
}

export function cimStatusError(method: string, err: CimErrorElement): EngineError {
  for (const i of err.instances) {
    const p = plain(i);
    if (p.OwningEntity === "TPD" && isSymbol(p.MessageID)) {
      return arrayError(p.MessageID, typeof p.Message === "string" ? p.Message : err.description);
    }
  }
  const known = cimStatusCodes.get(err.code);
  const name = known?.name ?? `CIM status ${err.code}`;
  const detail = err.description === "" ? `${method} failed` : err.description;
  return new EngineError(`${detail} (${name})`, {
    code: known?.port ?? "Internal",
    ...(known?.kind === undefined ? {} : { kind: known.kind }),
  });
}

/** A method's return code other than 0 and 4096 as an EngineError: "CreateReplica returned 6 In Use". */
export function methodError(method: string, code: number): EngineError {
  const named = (n: string, port: EngineErrorCode, kind?: EngineErrorKind): EngineError =>
    new EngineError(`${method} returned ${code} ${n}`, { code: port, ...(kind === undefined ? {} : { kind }) });
  switch (code) {
    case methodReturn.NotSupported:
      return named("Not Supported", "Unsupported");
    case methodReturn.Unspecified:
      return named("Unspecified Error", "Internal", "uncertain");
    case methodReturn.Timeout:
      return named("Timeout", "Timeout", "uncertain");
    case methodReturn.Failed:
      return named("Failed", "Internal", "final");
    case methodReturn.InvalidParameter:
      return named("Invalid Parameter", "InvalidInput");
    case methodReturn.InUse:
      return named("In Use", "InUse");
    default:
      return named(code >= 32768 ? "(vendor specific)" : "(reserved)", "Internal", "uncertain");
  }
}
