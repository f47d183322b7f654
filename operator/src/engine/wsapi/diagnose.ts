// Naming refusals whose WSAPI number is unpublished (DOMAIN.md §6.1). The array answers with a number the
// driver's table does not know; rather than guess numbers, the engine looks at the array and names the symbol
// only when what it sees proves the cause (a read-only source, a smaller destination, a retention time, …).
// The array's number stays in arrayCode so it can be added to the table once confirmed.
import { arrayErrors, EngineError, type ArraySymbol } from "../errors.ts";

/** True when the refusal carries no known symbol, so an observation may name it. */
export function unnamed(e: unknown): e is EngineError {
  return e instanceof EngineError && e.arraySymbol === undefined && e.kind === "final";
}

/** The refusal, named: "… (RETAINED, array code 9001)". */
export function named(symbol: ArraySymbol, e: EngineError, detail?: string): EngineError {
  const entry = arrayErrors[symbol];
  const code = e.arrayCode === undefined ? "" : `, array code ${e.arrayCode}`;
  const text = detail ?? e.message.replace(/ \([^()]*\)$/, "");
  return new EngineError(`${text} (${symbol}${code})`, {
    code: entry.port,
    arraySymbol: symbol,
    cause: e,
    ...(e.arrayCode === undefined ? {} : { arrayCode: e.arrayCode }),
  });
}
