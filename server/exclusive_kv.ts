/**
 * A Deno KV database one process holds alone: Deno KV lets several processes open one file, but a
 * server that keeps state in memory next to it (a sidecar's locks, a backend's sequence) must be
 * its only writer.
 *
 * @module
 */

/** An open Deno KV database and the lock that keeps other processes out of it. */
export interface ExclusiveKv {
  readonly kv: Deno.Kv;
  /** Closes the database and releases the lock. */
  close(): void;
}

/**
 * Opens (or creates) the database at `path` after taking an exclusive lock on `path + ".lock"`;
 * throws, naming `owner` (e.g. `"sidecar"`), if another process holds it for `waitMillis`.
 * `":memory:"` takes no lock.
 *
 * @example
 * ```ts
 * import { openExclusiveKv } from "@allegro/server/exclusive-kv";
 *
 * const dir = await Deno.makeTempDir();
 * const db = await openExclusiveKv(`${dir}/example.kv`, "example");
 * await db.kv.set(["hello"], "world");
 * db.close();
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export async function openExclusiveKv(
  path: string,
  owner: string,
  waitMillis = 2000,
): Promise<ExclusiveKv> {
  let lockFile: Deno.FsFile | undefined;
  if (path !== ":memory:") {
    lockFile = await Deno.open(`${path}.lock`, { create: true, write: true });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const locked = await Promise.race([
      lockFile.lock(true).then(() => true),
      new Promise<false>((r) => timer = setTimeout(() => r(false), waitMillis)),
    ]);
    clearTimeout(timer);
    if (!locked) {
      lockFile.close();
      throw new Error(`KV path ${path} is in use by another ${owner} process`);
    }
  }
  const kv = await Deno.openKv(path);
  return {
    kv,
    close() {
      kv.close();
      lockFile?.close();
    },
  };
}
