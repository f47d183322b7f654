// `node dist/populator/cli.js`: the populator pod's command, in the operator's own image. It is a script of its own,
// not a flag of main.js, so that it starts without loading the operator (0.25 s instead of 1.3). It makes --target
// (the PVC′'s block device, or a file on its filesystem) hold the copy the source offers (https, trusting only the
// certificate in --ca-file: the operator's own, from the pod's Secret), and ends with one JSON
// line of figures on stdout. A failure that another attempt can fix (the source unreachable past its deadline, a
// chunk corrupted in transit) exits 1 and the pod is run again: it resumes by comparing, so nothing written is sent
// twice. A final refusal exits 2. Either way the reason goes to the pod's termination message, where the
// controller reads it for the PVC's event.
import { populateCommand } from "./command.ts";

process.exitCode = await populateCommand(process.argv.slice(2));
