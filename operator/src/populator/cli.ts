// `node dist/populator/cli.js`: the populator pod's command, in the operator's own image. It is a script of its own,
// not a flag of main.js, so that it starts without loading the operator (0.25 s instead of 1.3). It makes --target
// (the PVC′'s block device, or a file on its filesystem) hold the copy the source offers (https, trusting only the
// certificate in --ca-file: the operator's own, from the pod's Secret), and ends with one JSON
// line of figures on stdout. A failure that another attempt can fix (the source unreachable past its deadline, a
// chunk corrupted in transit) exits 1 and the pod is run again: it resumes by comparing, so nothing written is sent
// twice. A final refusal exits 2. Either way the reason goes to the pod's termination message, where the
// controller reads it for the PVC's event.
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

if (import.meta.main) process.exitCode = await populateCommand(process.argv.slice(2));
