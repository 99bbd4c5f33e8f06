// SHA-256 of controller files, remembered across runs by what identifies a file's version (device,
// inode, size, mtime and ctime in nanoseconds): a run re-reads only files that changed since the
// last one, so that a gigabyte of TFTP content is not hashed on every dry-run.
import { createHash } from "node:crypto";
import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  renameSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Where the digests are kept: $PICOTRADER_CACHE, else $XDG_CACHE_HOME/picotrader, else ~/.cache/picotrader. */
export function digestCachePath(env: NodeJS.ProcessEnv = process.env): string {
  const dir =
    env.PICOTRADER_CACHE ?? join(env.XDG_CACHE_HOME ?? join(env.HOME ?? homedir(), ".cache"), "picotrader");
  return join(dir, "digests.json");
}

/** Past this many remembered files, a save keeps only the files of its own run. */
const MAX_ENTRIES = 10_000;

type Entries = Record<string, { version: string; sha256: string }>;

/** A file's SHA-256 read in 1 MiB pieces: memory stays constant whatever the file's size. */
export function sha256File(path: string): string {
  const hash = createHash("sha256");
  const buffer = Buffer.alloc(1 << 20);
  const fd = openSync(path, "r");
  try {
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0;) hash.update(buffer.subarray(0, n));
  } finally {
    closeSync(fd);
  }
  return hash.digest("hex");
}

/**
 * Digests of files by path, from the cache where a file's version is unchanged. The cache is an
 * optimisation only: one that cannot be read or written is ignored (it is rewritten atomically).
 */
export class DigestCache {
  private readonly entries: Entries;
  private readonly used: Entries = {};
  private changed = false;

  constructor(private readonly file: string = digestCachePath()) {
    let entries: Entries = {};
    try {
      const parsed = JSON.parse(readFileSync(file, "utf8")) as unknown;
      if (parsed && typeof parsed === "object") entries = parsed as Entries;
    } catch {
      // No cache yet, or a broken one: every file is hashed.
    }
    this.entries = entries;
  }

  /** The file's size, mtime (whole seconds) and SHA-256. */
  read(path: string): { size: number; mtime: number; sha256: string } {
    const s = statSync(path, { bigint: true });
    const version = [s.dev, s.ino, s.size, s.mtimeNs, s.ctimeNs].join(":");
    const known = this.entries[path];
    const sha256 = known?.version === version ? known.sha256 : sha256File(path);
    if (known?.version !== version) this.changed = true;
    this.used[path] = { version, sha256 };
    return { size: Number(s.size), mtime: Number(s.mtimeNs / 1_000_000_000n), sha256 };
  }

  /**
   * Writes the cache when a digest was computed: the entries read by this run, with the others
   * kept unless the cache has grown past MAX_ENTRIES (then only this run's stay).
   */
  save(): void {
    if (!this.changed) return;
    const merged = { ...this.entries, ...this.used };
    const entries = Object.keys(merged).length > MAX_ENTRIES ? this.used : merged;
    try {
      mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}`;
      writeFileSync(tmp, JSON.stringify(entries), { mode: 0o600 });
      renameSync(tmp, this.file);
    } catch {
      // Read-only home (a hardened service): the next run hashes again.
    }
  }
}
