// Where the operator allocates: a preload for its process that runs V8's sampling heap profiler with the objects
// that garbage collection frees kept in the profile (the inspector's HeapProfiler.startSampling; Node's own
// --heap-prof reports only what is still live at exit, which hides the short-lived garbage that makes the
// scavenges). Every 5 s, and on SIGTERM, it writes the profile so far to $ARRAYCOPY_HEAP_SAMPLE_DIR (default
// the working directory) as heap-<pid>.heapprofile, which Chrome DevTools' Memory panel opens.
//   npm run bench:operator -- --sizes 1000 --repeat 1 \
//     "--node-flags=--optimize-for-size --import=$PWD/bench/heap-sample.ts"
// The sampling itself allocates (the inspector's frames show in the profile): read its shares, not its total.
import { writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { join } from "node:path";

const dir = process.env["ARRAYCOPY_HEAP_SAMPLE_DIR"] ?? process.cwd();
const session = new Session();
session.connect();
session.post("HeapProfiler.enable");
session.post("HeapProfiler.startSampling", {
  samplingInterval: 16_384,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true,
});

function write(): void {
  session.post("HeapProfiler.getSamplingProfile", (err, result) => {
    if (err === null) writeFileSync(join(dir, `heap-${process.pid}.heapprofile`), JSON.stringify(result.profile));
  });
}

setInterval(write, 5_000).unref();
process.prependListener("SIGTERM", write);
