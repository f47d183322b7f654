// Small durable-file helpers: atomic replacement (write a temporary file, fsync, rename, fsync the directory) so
// metadata is always either the old or the new version after a crash, and directory fsync for new files.
import { constants } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";

export async function fsyncDirectory(path: string): Promise<void> {
  const dir = await open(path, constants.O_RDONLY | constants.O_DIRECTORY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export async function writeFileAtomic(path: string, data: string | Uint8Array): Promise<void> {
  const temporary = `${path}.tmp`;
  const handle = await open(temporary, "w", 0o600);
  try {
    await handle.writeFile(data);
    await handle.datasync();
  } finally {
    await handle.close();
  }
  await rename(temporary, path);
  await fsyncDirectory(dirname(path));
}
