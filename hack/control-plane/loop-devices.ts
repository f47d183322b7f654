// Loop devices of the node's CSI driver, found and released by `down`. Loop devices are the kernel's, not a mount
// namespace's: they outlive the processes that attached them. A device is ours when its backing inode is one of our
// images (by device and inode number, not by name), or the device node of a loop device of ours (the kubelet
// attaches one over each published Block volume's device to hold it open).
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

interface LoopDevice {
  readonly name: string;
  readonly backFile: string;
  /** "<major>:<minor> <inode>" of the backing file. */
  readonly backing: string;
}

export function loopDevices(): LoopDevice[] {
  const res = spawnSync("losetup", ["--list", "--json", "--output", "NAME,BACK-FILE,BACK-INO,BACK-MAJ:MIN"], {
    encoding: "utf8",
  });
  if (res.status !== 0 || res.stdout.trim() === "") return [];
  const parsed = JSON.parse(res.stdout) as {
    loopdevices: { name: string; "back-file": string | null; "back-ino": number | string; "back-maj:min": string }[];
  };
  return parsed.loopdevices.map((l) => ({
    name: l.name,
    backFile: l["back-file"] ?? "",
    backing: `${l["back-maj:min"].trim()} ${String(l["back-ino"]).trim()}`,
  }));
}

/** A file's identity as losetup prints it: "<major>:<minor> <inode>" of the filesystem holding it. */
function identity(path: string): string | undefined {
  try {
    const st = statSync(path, { bigint: true });
    const dev = st.dev;
    const major = ((dev >> 8n) & 0xfffn) | ((dev >> 32n) & ~0xfffn);
    const minor = (dev & 0xffn) | ((dev >> 12n) & ~0xffn);
    return `${major}:${minor} ${st.ino}`;
  } catch {
    return undefined;
  }
}

/** The images of the driver whose state is under `stateDir` (volumes and snapshots). */
function images(stateDir: string): string[] {
  return ["volumes", "snapshots"].flatMap((kind) => {
    const d = join(stateDir, kind);
    return existsSync(d)
      ? readdirSync(d)
          .filter((f) => f.endsWith(".img"))
          .map((f) => join(d, f))
      : [];
  });
}

/** The loop devices that are ours, outermost first (a device over one of ours before that one). */
export function ourLoopDevices(stateDir: string): LoopDevice[] {
  const all = loopDevices();
  const ours = new Set(
    images(stateDir)
      .map(identity)
      .filter((i) => i !== undefined),
  );
  const found: LoopDevice[] = [];
  for (let grew = true; grew;) {
    grew = false;
    for (const l of all) {
      if (found.includes(l) || !ours.has(l.backing)) continue;
      found.push(l);
      const node = identity(l.name);
      if (node !== undefined) ours.add(node);
      grew = true;
    }
  }
  return found.reverse();
}

/** Detaches our loop devices (after the node's processes and mount namespace are gone); returns how many. */
export function releaseLoopDevices(stateDir: string, log: (l: string) => void): number {
  const ours = ourLoopDevices(stateDir);
  for (const l of ours) {
    const res = spawnSync("losetup", ["--detach", l.name], { encoding: "utf8" });
    if (res.status !== 0) log(`[node] warning: losetup --detach ${l.name} (${l.backFile}): ${res.stderr.trim()}`);
  }
  if (ours.length > 0) log(`[node] detached ${ours.length} loop devices: ${ours.map((l) => l.name).join(", ")}`);
  return ours.length;
}
