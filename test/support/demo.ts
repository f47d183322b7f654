// Running `npm run demo` as a user does, for test/e2e and test/node-demo: the demo's own process with a state
// directory of the test's, its output collected.
import { spawn } from "node:child_process";
import { join } from "node:path";
import { readRecorded, type Recorded } from "../../hack/control-plane/processes.ts";
import { repoRoot } from "../../hack/demo/examples.ts";

export interface DemoRun {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly output: string;
  /** The processes the demo had recorded (operator, control plane, node, watchdogs) when it was interrupted. */
  readonly recorded: readonly Recorded[];
}

/** Runs the demo to its end. */
export function runDemo(stateDir: string, args: readonly string[]): Promise<DemoRun> {
  return interruptDemo(stateDir, args, undefined);
}

/**
 * Runs the demo in its live view, its stdout a pipe; once the output matches `when`, this side closes the pipe (as
 * `npm run demo | head` does when head exits) and sends SIGINT, as Ctrl-C would; resolves when the demo has exited.
 */
export function interruptDemo(stateDir: string, args: readonly string[], when: RegExp | undefined): Promise<DemoRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(repoRoot, "hack", "demo.ts"), ...args], {
      cwd: repoRoot,
      env: { ...process.env, ARRAYCOPY_DEMO_DIR: stateDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    let interrupted = false;
    let recorded: Recorded[] = [];
    const seen = (d: Buffer) => {
      output += d.toString();
      if (when === undefined || interrupted || !when.test(output)) return;
      interrupted = true;
      recorded = [join(stateDir, "pids.json"), join(stateDir, "cluster", "pids.json")].flatMap(readRecorded);
      child.stdout.destroy();
      child.kill("SIGINT");
    };
    child.stdout.on("data", seen);
    child.stderr.on("data", seen);
    child.once("error", reject);
    child.once("close", (code, signal) => {
      resolve({ code, signal, output, recorded });
    });
  });
}
