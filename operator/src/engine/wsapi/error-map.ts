// WSAPI refusals → EngineError. The array answers an error with HTTP status and JSON {code, desc}; only `code`
// is a contract (DOMAIN.md §3.1), so the table is keyed by code and the text is kept only as detail.
// Kinds follow errors.ts: a refusal the array made is final unless it says "busy / try later" (retryable);
// a lost or 5xx answer to a request that changes the array is uncertain (it may have been applied), while the
// same on a read is retryable. Codes the table does not know (DOMAIN.md §6.1: RETAINED, PCOPY_IN_PROGRESS, …
// have no published number) are classified by HTTP status and keep their number in arrayCode; the engine then
// names the symbol where an observation proves it (see diagnose in engine.ts).
import { EngineError, type ArraySymbol, type EngineErrorCode, type EngineErrorKind } from "../errors.ts";

export interface WsapiCode {
  readonly symbol: ArraySymbol | undefined;
  readonly name: string;
  readonly port: EngineErrorCode;
  readonly kind?: EngineErrorKind;
}

/** Numbers from DOMAIN.md §3.5. Symbols the port table lacks keep their name only in the message. */
export const wsapiCodes: ReadonlyMap<number, WsapiCode> = new Map<number, WsapiCode>([
  [1, { symbol: "INT_SERV_ERR", name: "INT_SERV_ERR", port: "Internal", kind: "uncertain" }],
  [5, { symbol: undefined, name: "INV_USER_PASS", port: "InvalidInput" }],
  [6, { symbol: undefined, name: "INV_SESS_KEY", port: "Unavailable", kind: "retryable" }],
  [11, { symbol: undefined, name: "URI_RES_NOT_FOUND", port: "NotFound" }],
  [12, { symbol: "INV_INPUT", name: "INV_INPUT", port: "InvalidInput" }],
  [13, { symbol: undefined, name: "PERM_DENIED", port: "Unsupported" }],
  [22, { symbol: "EXISTENT_VOL", name: "EXISTENT_VOL", port: "AlreadyExists" }],
  [23, { symbol: "NON_EXISTENT_VOL", name: "NON_EXISTENT_VOL", port: "NotFound" }],
  [24, { symbol: "NO_SPACE", name: "NO_SPACE", port: "NoSpace" }],
  [25, { symbol: "HAS_RO_CHILD", name: "HAS_RO_CHILD", port: "HasChildren" }],
  [26, { symbol: undefined, name: "EXPORTED_VLUN", port: "InUse" }],
  // 29 and 151 are unnamed in the sources; cinder treats both as "an online copy or background task runs on it".
  [29, { symbol: undefined, name: "CODE_29", port: "Busy" }],
  [32, { symbol: "HAS_CHILD", name: "HAS_CHILD", port: "HasChildren" }],
  [34, { symbol: "IN_USE", name: "IN_USE", port: "InUse" }],
  [39, { symbol: undefined, name: "INV_INPUT_WRONG_TYPE", port: "InvalidInput" }],
  [43, { symbol: "INV_INPUT_EXCEEDS_RANGE", name: "INV_INPUT_EXCEEDS_RANGE", port: "InvalidInput" }],
  [44, { symbol: "INV_INPUT_PARAM_CONFLICT", name: "INV_INPUT_PARAM_CONFLICT", port: "InvalidInput" }],
  [46, { symbol: "INV_INPUT_BAD_ENUM_VALUE", name: "INV_INPUT_BAD_ENUM_VALUE", port: "InvalidInput" }],
  [57, { symbol: "INV_INPUT_EXCEEDS_LENGTH", name: "INV_INPUT_EXCEEDS_LENGTH", port: "InvalidInput" }],
  [59, { symbol: undefined, name: "EXISTENT_ID", port: "AlreadyExists" }],
  [69, { symbol: "INV_INPUT_ILLEGAL_CHAR", name: "INV_INPUT_ILLEGAL_CHAR", port: "InvalidInput" }],
  [78, { symbol: undefined, name: "INV_INPUT_ONE_REQUIRED", port: "InvalidInput" }],
  [97, { symbol: "INV_OPERATION_VLUN_PCOPY_TARGET_VV", name: "INV_OPERATION_VLUN_PCOPY_TARGET_VV", port: "InUse" }],
  [115, { symbol: "INV_INPUT_BELOW_RANGE", name: "INV_INPUT_BELOW_RANGE", port: "InvalidInput" }],
  [120, { symbol: undefined, name: "INV_OPERATION_VV_IN_REMOTE_COPY", port: "InvalidState" }],
  [145, { symbol: "NON_EXISTENT_TASK", name: "NON_EXISTENT_TASK", port: "NotFound" }],
  [151, { symbol: undefined, name: "CODE_151", port: "Busy" }],
  [
    185,
    {
      symbol: "INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS",
      name: "INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS",
      port: "InvalidState",
    },
  ],
]);

/** What a request was, for deciding the kind of a failure whose outcome is unknown. */
export interface RequestNature {
  /** Repeating it cannot change the result (GET, DELETE, a PUT that sets a value). */
  readonly idempotent: boolean;
}

/** An unknown code is classified by its HTTP status. */
function byStatus(status: number): { port: EngineErrorCode; kind: EngineErrorKind | undefined } {
  if (status === 400) return { port: "InvalidInput", kind: undefined };
  if (status === 401 || status === 403) return { port: "InvalidState", kind: undefined };
  if (status === 404) return { port: "NotFound", kind: undefined };
  if (status === 409) return { port: "InvalidState", kind: undefined };
  if (status === 503) return { port: "Busy", kind: "retryable" };
  if (status >= 500) return { port: "Internal", kind: "uncertain" };
  return { port: "Internal", kind: "final" };
}

/** Maps an error answer. `detail` is the array's desc; the message ends with the number, as the port's do. */
export function wsapiError(
  status: number,
  code: number | undefined,
  detail: string,
  nature: RequestNature,
): EngineError {
  const known = code === undefined ? undefined : wsapiCodes.get(code);
  const fallback = byStatus(status);
  const port = known?.port ?? fallback.port;
  let kind: EngineErrorKind = known?.kind ?? fallback.kind ?? defaultFor(port);
  // A 5xx answer (or INT_SERV_ERR) to a read changed nothing: retry it; to a write it may have been applied.
  if (kind === "uncertain" && nature.idempotent) kind = "retryable";
  // 503 means the array did not take the request, whatever it was.
  if (status === 503) kind = "retryable";
  const suffix = code === undefined ? `HTTP ${status}` : String(code);
  const text = detail.length > 0 ? detail : (known?.name ?? `array refused the request`);
  return new EngineError(`${text} (${suffix})`, {
    code: status === 503 ? "Busy" : port,
    kind,
    ...(known?.symbol === undefined ? {} : { arraySymbol: known.symbol }),
    ...(code === undefined ? {} : { arrayCode: code }),
  });
}

/** No answer at all (connection reset, timeout): a write may have been applied. */
export function transportError(detail: string, nature: RequestNature, timedOut: boolean, cause: unknown): EngineError {
  return new EngineError(detail, {
    code: timedOut ? "Timeout" : "Unavailable",
    kind: nature.idempotent ? "retryable" : "uncertain",
    cause,
  });
}

function defaultFor(code: EngineErrorCode): EngineErrorKind {
  return new EngineError("", { code }).kind;
}
