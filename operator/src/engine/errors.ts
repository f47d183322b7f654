// Engine errors: one class for every engine, carrying our port code, the array's WSAPI symbol and number where
// the array has one (DOMAIN.md §3.5), and a kind that tells a controller what a retry means:
// - final: the same call fails again until something changes (a missing volume, a name taken by another owner);
// - uncertain: the call may have been applied (a lost response); observe before acting again;
// - retryable: nothing was applied and a later retry can succeed (busy, aborted, unavailable).
// Messages are lowercase and chain their cause: "cannot create virtual copy: volume vol1 not found (23)".

export type EngineErrorCode =
  | "NotFound"
  | "AlreadyExists"
  | "InUse"
  | "HasChildren"
  | "Retained"
  | "InvalidInput"
  | "InvalidState"
  | "Busy"
  | "NoSpace"
  | "Unsupported"
  | "Unavailable"
  | "Timeout"
  | "Aborted"
  | "Internal"
  /** The object under the name carries another owner's tag, or none: refused before any change. */
  | "NotOwned"
  /** The array refused our credentials, or its certificate is not trusted: nothing works until they change. */
  | "AccessDenied";

export type EngineErrorKind = "final" | "uncertain" | "retryable";

/** WSAPI error symbols the engines use, with the number where one is known (some are not: DOMAIN.md §6.1). */
export const arrayErrors = {
  INT_SERV_ERR: { code: 1, port: "Internal" },
  INV_INPUT: { code: 12, port: "InvalidInput" },
  EXISTENT_VOL: { code: 22, port: "AlreadyExists" },
  NON_EXISTENT_VOL: { code: 23, port: "NotFound" },
  NO_SPACE: { code: 24, port: "NoSpace" },
  HAS_RO_CHILD: { code: 25, port: "HasChildren" },
  HAS_CHILD: { code: 32, port: "HasChildren" },
  IN_USE: { code: 34, port: "InUse" },
  INV_INPUT_EXCEEDS_RANGE: { code: 43, port: "InvalidInput" },
  INV_INPUT_PARAM_CONFLICT: { code: 44, port: "InvalidInput" },
  INV_INPUT_BAD_ENUM_VALUE: { code: 46, port: "InvalidInput" },
  INV_INPUT_EXCEEDS_LENGTH: { code: 57, port: "InvalidInput" },
  INV_INPUT_ILLEGAL_CHAR: { code: 69, port: "InvalidInput" },
  INV_OPERATION_VLUN_PCOPY_TARGET_VV: { code: 97, port: "InUse" },
  INV_INPUT_BELOW_RANGE: { code: 115, port: "InvalidInput" },
  NON_EXISTENT_TASK: { code: 145, port: "NotFound" },
  INV_OPERATION_VV_PROMOTE_IS_NOT_IN_PROGRESS: { code: 185, port: "InvalidState" },
  RETAINED: { code: undefined, port: "Retained" },
  NON_EXISTENT_VVCOPY: { code: undefined, port: "InvalidState" },
  INV_OPERATION_VV_PCOPY_IN_PROGRESS: { code: undefined, port: "Busy" },
  INV_OPERATION_VV_PROMOTE_IN_PROGRESS: { code: undefined, port: "Busy" },
  INV_OPERATION_VV_IS_BUSY: { code: undefined, port: "Busy" },
  INV_OPERATION_VV_COPY_PARENT_TOO_BIG: { code: undefined, port: "InvalidInput" },
  INV_OPERATION_VV_NON_BASE_VOLUME: { code: undefined, port: "InvalidInput" },
  INV_OPERATION_VV_COPY_TO_SELF: { code: undefined, port: "InvalidInput" },
  INV_OPERATION_VV_READONLY_SNAPSHOT: { code: undefined, port: "InvalidState" },
  INV_OPERATION_VV_READONLY_TO_READONLY_SNAP: { code: undefined, port: "InvalidInput" },
  INV_OPERATION_PARENT_SIZE_HAS_INCREASED: { code: undefined, port: "InvalidState" },
  INV_INPUT_RETAIN_GT_EXPIRE: { code: undefined, port: "InvalidInput" },
  VV_IN_STALE_STATE: { code: undefined, port: "InvalidState" },
  EXISTENT_SET: { code: undefined, port: "AlreadyExists" },
  NON_EXISTENT_SET: { code: undefined, port: "NotFound" },
} as const satisfies Record<string, { code: number | undefined; port: EngineErrorCode }>;

export type ArraySymbol = keyof typeof arrayErrors;

/** The kind a code has unless the raiser knows better (a lost response is uncertain whatever its code). */
export function defaultKind(code: EngineErrorCode): EngineErrorKind {
  switch (code) {
    case "Busy":
    case "Unavailable":
    case "Aborted":
      return "retryable";
    case "Timeout":
      return "uncertain";
    case "NotFound":
    case "AlreadyExists":
    case "InUse":
    case "HasChildren":
    case "Retained":
    case "InvalidInput":
    case "InvalidState":
    case "NoSpace":
    case "Unsupported":
    case "Internal":
    case "NotOwned":
    case "AccessDenied":
      return "final";
  }
}

export interface EngineErrorInit {
  readonly code: EngineErrorCode;
  readonly kind?: EngineErrorKind;
  readonly arraySymbol?: ArraySymbol;
  readonly arrayCode?: number;
  readonly cause?: unknown;
}

export class EngineError extends Error {
  readonly code: EngineErrorCode;
  readonly kind: EngineErrorKind;
  /** The WSAPI symbol, when the array has one for this refusal. */
  readonly arraySymbol: ArraySymbol | undefined;
  /** The WSAPI numeric code, when known (DOMAIN.md §3.5). */
  readonly arrayCode: number | undefined;

  constructor(message: string, init: EngineErrorInit) {
    super(message, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "EngineError";
    this.code = init.code;
    this.kind = init.kind ?? defaultKind(init.code);
    this.arraySymbol = init.arraySymbol;
    this.arrayCode = init.arrayCode;
  }
}

/** A refusal the array would give: "volume vol1 not found (23)", or "(RETAINED)" where the number is unknown. */
export function arrayError(symbol: ArraySymbol, detail: string, kind?: EngineErrorKind): EngineError {
  const entry = arrayErrors[symbol];
  const suffix = entry.code === undefined ? symbol : String(entry.code);
  const init: EngineErrorInit = { code: entry.port, arraySymbol: symbol };
  return new EngineError(`${detail} (${suffix})`, {
    ...init,
    ...(entry.code === undefined ? {} : { arrayCode: entry.code }),
    ...(kind === undefined ? {} : { kind }),
  });
}

/** Prefixes what the caller was doing, keeping code, kind and array code: "cannot delete copy: …". */
export function withContext(context: string, e: unknown): EngineError {
  if (e instanceof EngineError) {
    return new EngineError(`${context}: ${e.message}`, {
      code: e.code,
      kind: e.kind,
      cause: e,
      ...(e.arraySymbol === undefined ? {} : { arraySymbol: e.arraySymbol }),
      ...(e.arrayCode === undefined ? {} : { arrayCode: e.arrayCode }),
    });
  }
  const detail = messageOf(e);
  return new EngineError(`${context}: ${detail}`, { code: "Internal", kind: "uncertain", cause: e });
}

/** Thrown when a call's AbortSignal fired before the call changed anything. */
export function abortedError(context: string): EngineError {
  return new EngineError(`${context}: aborted before any change`, { code: "Aborted" });
}

export function isEngineError(e: unknown, code?: EngineErrorCode): e is EngineError {
  return e instanceof EngineError && (code === undefined || e.code === code);
}

/** The text of anything thrown: an Error's message, else its string form. */
export function messageOf(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
