// The populator's command (populator/cli.ts runs it as the pod's script; `main.js populate` runs it too): flags,
// the copy, its figures as JSON lines on stdout, and the exit code and termination message a failure leaves.
// It holds no entry guard of its own, so that a bundle which includes it (dist/main.js) does not run it at load.
import { readFile, writeFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { populate, PopulateError, type PopulateProgress } from "./sink.ts";

export const populateUsage = `usage: populator/cli.js --source https://HOST:PORT --token-file FILE --ca-file FILE
  --target PATH [--concurrency N] [--unreachable-seconds S] [--termination-log FILE]
`;

const terminationLog = "/dev/termination-log";

export async function populateCommand(argv: readonly string[]): Promise<number> {
  let values: Record<string, string | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      strict: true,
      options: {
        source: { type: "string" },
        "token-file": { type: "string" },
        target: { type: "string" },
        "ca-file": { type: "string" },
        concurrency: { type: "string" },
        "unreachable-seconds": { type: "string" },
        "termination-log": { type: "string" },
      },
    }));
  } catch (e: unknown) {
    process.stderr.write(`${e instanceof Error ? e.message : String(e)}\n${populateUsage}`);
    return 2;
  }
  const { source, target } = values;
  const tokenFile = values["token-file"];
  const caFile = values["ca-file"];
  if (source === undefined || target === undefined || tokenFile === undefined || caFile === undefined) {
    process.stderr.write(`--source, --token-file, --ca-file and --target are required\n${populateUsage}`);
    return 2;
  }
  const concurrency = values.concurrency === undefined ? undefined : Number(values.concurrency);
  const unreachable = values["unreachable-seconds"] === undefined ? undefined : Number(values["unreachable-seconds"]);
  if (
    (concurrency !== undefined && !Number.isInteger(concurrency)) ||
    (unreachable !== undefined && !(unreachable > 0))
  ) {
    process.stderr.write(`--concurrency is a whole number and --unreachable-seconds a positive one\n${populateUsage}`);
    return 2;
  }
  const log = (line: Record<string, unknown>): void => {
    process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...line })}\n`);
  };
  let last = 0;
  const onProgress = (p: PopulateProgress): void => {
    const now = Date.now();
    if (now - last < 2000 && p.done !== p.chunks) return;
    last = now;
    log({ msg: "Populating", ...p, percent: p.chunks === 0 ? 100 : Math.floor((100 * p.done) / p.chunks) });
  };
  try {
    const token = (await readFile(tokenFile, "utf8")).trim();
    const ca = await readFile(caFile, "utf8");
    const started = Date.now();
    const r = await populate({
      source,
      token,
      target,
      onProgress,
      ca,
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(unreachable === undefined ? {} : { unreachableMs: unreachable * 1000 }),
    });
    const seconds = (Date.now() - started) / 1000;
    log({ msg: "Populated", ...r, seconds, mibPerSecond: r.sizeBytes / 1048576 / Math.max(seconds, 1e-3) });
    return 0;
  } catch (e: unknown) {
    const final = e instanceof PopulateError && e.final;
    const message = e instanceof Error ? e.message : String(e);
    log({ msg: "PopulateFailed", final, error: message });
    await writeFile(values["termination-log"] ?? terminationLog, message).catch(() => undefined);
    return final ? 2 : 1;
  }
}
