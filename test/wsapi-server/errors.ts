// EngineError (from the embedded engine behind the test array) → the WSAPI answer a real array gives: HTTP status
// and {code, desc} (DOMAIN.md §3.5). Symbols whose number no source publishes get a PROVISIONAL number from 9001
// up, invented here and used nowhere else: the driver must not know them, so it is tested the way it meets a
// real array's unknown numbers (classified by HTTP status, then named by observation).
import { EngineError, type ArraySymbol } from "../../operator/src/engine/errors.ts";

export interface WsapiFailure {
  readonly status: number;
  readonly code: number;
  readonly desc: string;
}

const statusBySymbol: Partial<Record<ArraySymbol, number>> = {
  INT_SERV_ERR: 500,
  EXISTENT_VOL: 409,
  NON_EXISTENT_VOL: 404,
  HAS_RO_CHILD: 409,
  HAS_CHILD: 409,
  IN_USE: 409,
  INV_OPERATION_VLUN_PCOPY_TARGET_VV: 409,
  NON_EXISTENT_TASK: 404,
  INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS: 409,
  RETAINED: 409,
  NON_EXISTENT_VVCOPY: 404,
  INV_OPERATION_VV_PCOPY_IN_PROGRESS: 409,
  INV_OPERATION_VV_PROMOTE_IN_PROGRESS: 409,
  INV_OPERATION_VV_IS_BUSY: 409,
  INV_OPERATION_VV_COPY_PARENT_TOO_BIG: 409,
  INV_OPERATION_VV_NON_BASE_VOLUME: 403,
  INV_OPERATION_VV_COPY_TO_SELF: 403,
  INV_OPERATION_VV_READONLY_SNAPSHOT: 403,
  INV_OPERATION_VV_READONLY_TO_READONLY_SNAP: 403,
  INV_OPERATION_PARENT_SIZE_HAS_INCREASED: 409,
  VV_IN_STALE_STATE: 403,
  EXISTENT_SET: 409,
  NON_EXISTENT_SET: 404,
};

/** Invented numbers for unpublished symbols (see the header). */
export const provisionalCodes: Partial<Record<ArraySymbol, number>> = {
  RETAINED: 9001,
  NON_EXISTENT_VVCOPY: 9002,
  INV_OPERATION_VV_PCOPY_IN_PROGRESS: 9003,
  INV_OPERATION_VV_PROMOTE_IN_PROGRESS: 9004,
  INV_OPERATION_VV_IS_BUSY: 9005,
  INV_OPERATION_VV_COPY_PARENT_TOO_BIG: 9006,
  INV_OPERATION_VV_NON_BASE_VOLUME: 9007,
  INV_OPERATION_VV_COPY_TO_SELF: 9008,
  INV_OPERATION_VV_READONLY_SNAPSHOT: 9009,
  INV_OPERATION_VV_READONLY_TO_READONLY_SNAP: 9010,
  INV_OPERATION_PARENT_SIZE_HAS_INCREASED: 9011,
  INV_INPUT_RETAIN_GT_EXPIRE: 9012,
  VV_IN_STALE_STATE: 9013,
  EXISTENT_SET: 9014,
  NON_EXISTENT_SET: 9015,
};

/** The innermost message without the engine's "cannot …:" context and "(23)" suffix. */
function detail(e: EngineError): string {
  let inner: EngineError = e;
  while (inner.cause instanceof EngineError) inner = inner.cause;
  return inner.message.replace(/ \([^()]*\)$/, "");
}

export function toWsapi(e: unknown): WsapiFailure {
  if (!(e instanceof EngineError)) return { status: 500, code: 1, desc: e instanceof Error ? e.message : String(e) };
  const symbol = e.arraySymbol;
  if (symbol !== undefined) {
    const code = e.arrayCode ?? provisionalCodes[symbol] ?? 1;
    return { status: statusBySymbol[symbol] ?? (e.code === "InvalidInput" ? 400 : 409), code, desc: detail(e) };
  }
  switch (e.code) {
    case "NotFound":
      return { status: 404, code: 11, desc: detail(e) };
    case "InvalidInput":
      return { status: 400, code: 12, desc: detail(e) };
    case "Busy":
    case "Unavailable":
    case "Aborted":
      return { status: 503, code: 1, desc: detail(e) };
    default:
      return { status: 500, code: 1, desc: detail(e) };
  }
}
