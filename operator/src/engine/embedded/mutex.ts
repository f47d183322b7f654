// A FIFO async mutex: the embedded engine serialises metadata changes and block I/O through one, so concurrent
// calls see each other's effects whole. Waiting honours an AbortSignal (the caller has not changed anything yet).
import { abortedError } from "../errors.ts";

/** A function, so TypeScript does not keep a narrowing across awaits during which the signal may fire. */
export function aborted(signal: AbortSignal | undefined): boolean {
  return signal?.aborted === true;
}

export class Mutex {
  private tail: Promise<void> = Promise.resolve();

  async run<T>(work: () => Promise<T>, signal?: AbortSignal, context = "engine call"): Promise<T> {
    if (aborted(signal)) throw abortedError(context);
    let release = (): void => undefined;
    const turn = new Promise<void>((resolve) => {
      release = resolve;
    });
    const previous = this.tail;
    this.tail = previous.then(() => turn);
    try {
      await previous;
      if (aborted(signal)) throw abortedError(context);
      return await work();
    } finally {
      release();
    }
  }
}
