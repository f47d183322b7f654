// A small CLI over an embedded engine's data directory, to put data into volumes and verify copies byte for byte:
//   npm run volume -- --dir D create NAME SIZE | resize NAME SIZE | delete NAME | list | copies
//   npm run volume -- --dir D write NAME OFFSET [FILE]   (stdin when FILE is absent)
//   npm run volume -- --dir D read NAME OFFSET LENGTH    (to stdout)
//   npm run volume -- --dir D fill NAME OFFSET LENGTH SEED  (a deterministic pattern)
// Sizes take a suffix: 512MiB, 2GiB. It takes the directory's lock, so it cannot run beside an operator using it.
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import { text } from "node:stream/consumers";
import { messageOf } from "../errors.ts";
import { openEmbeddedEngine } from "./engine.ts";

const units: Record<string, number> = { "": 1, KiB: 1024, MiB: 1024 ** 2, GiB: 1024 ** 3, TiB: 1024 ** 4 };

function bytes(value: string | undefined): number {
  const match = /^(\d+)(KiB|MiB|GiB|TiB)?$/.exec(value ?? "");
  if (match === null) throw new Error(`not a size: ${value ?? "(missing)"}`);
  return Number(match[1]) * (units[match[2] ?? ""] ?? 1);
}

function need(value: string | undefined, what: string): string {
  if (value === undefined) throw new Error(`missing ${what}`);
  return value;
}

async function main(): Promise<void> {
  const { values, positionals } = parseArgs({ options: { dir: { type: "string" } }, allowPositionals: true });
  const dir = need(values.dir, "--dir");
  const [command, name, a, b, c] = positionals;
  const engine = await openEmbeddedEngine({ dataDir: dir, expiryIntervalMs: 0 });
  const v = engine.volumes;
  try {
    switch (command) {
      case "create":
        console.log(JSON.stringify(await v.createVolume(need(name, "name"), bytes(a))));
        break;
      case "resize":
        console.log(JSON.stringify(await v.resizeVolume(need(name, "name"), bytes(a))));
        break;
      case "delete":
        await v.deleteVolume(need(name, "name"));
        break;
      case "list":
        for (const vol of await v.listVolumes()) console.log(JSON.stringify(vol));
        break;
      case "copies":
        for (const copy of await engine.listCopies()) console.log(JSON.stringify(copy));
        break;
      case "write": {
        const data =
          a === undefined ? undefined : b === undefined ? Buffer.from(await text(process.stdin)) : await readFile(b);
        await v.writeVolume(need(name, "name"), bytes(a), data ?? Buffer.alloc(0));
        break;
      }
      case "fill": {
        const length = bytes(b);
        const data = Buffer.alloc(length);
        let x = Number(c ?? 1) >>> 0 || 1;
        for (let i = 0; i + 4 <= length; i += 4) {
          x = (Math.imul(x, 1_103_515_245) + 12_345) >>> 0;
          data.writeUInt32LE(x, i);
        }
        await v.writeVolume(need(name, "name"), bytes(a), data);
        break;
      }
      case "read":
        process.stdout.write(await v.readVolume(need(name, "name"), bytes(a), bytes(b)));
        break;
      default:
        throw new Error(
          `unknown command ${command ?? "(none)"}: create, resize, delete, list, copies, write, fill, read`,
        );
    }
  } finally {
    await engine.close();
  }
}

main().catch((e: unknown) => {
  console.error(messageOf(e));
  process.exitCode = 1;
});
