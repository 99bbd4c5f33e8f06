// V8's code cache for the bundled command line: Node.js 20 parses and compiles the 2 MB bundle on
// every start (a third of `validate`'s CPU). The launcher (src/launcher.ts) compiles it with the
// bytecode V8 made in an earlier run of the same command, and writes that bytecode after a run that
// had none. Bytecode is code: a cache is read only from a folder and a file of the user's own that
// nobody else may write, and it is keyed by the bundle's digest, because V8 itself checks only the
// source's length.
import {
  closeSync,
  fstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  type Stats,
} from "node:fs";
import { dirname, join } from "node:path";
import { digestCachePath } from "./digests.js";

/** The command a run's cache is kept for: the first word that is not an option. Pure. */
export function commandOf(argv: readonly string[]): string {
  const word = argv.find((a) => !a.startsWith("-"));
  return word !== undefined && /^[a-z][a-z0-9-]{0,31}$/.test(word) ? word : "none";
}

/**
 * The cache file for a bundle and a command: the bundle's digest, Node.js's version and the
 * architecture in its name (bytecode is valid for one V8 only). Pure.
 */
export function codeCachePath(bundleId: string, argv: readonly string[], env: NodeJS.ProcessEnv): string {
  return join(
    dirname(digestCachePath(env)),
    `code-${bundleId}-${process.version}-${process.arch}-${commandOf(argv)}.v8`,
  );
}

/** Whether a file or folder is the user's own and nobody else may write it. Pure. */
export function ownedAlone(s: Pick<Stats, "uid" | "mode">, uid: number): boolean {
  return s.uid === uid && (s.mode & 0o022) === 0;
}

/** The cache's bytes, or undefined when there is none or it is not trustworthy (never an error). */
export function readCodeCache(path: string, uid = process.getuid?.() ?? -1): Buffer | undefined {
  try {
    if (!ownedAlone(statSync(dirname(path)), uid)) return undefined;
    const fd = openSync(path, "r");
    try {
      return ownedAlone(fstatSync(fd), uid) ? readFileSync(fd) : undefined;
    } finally {
      closeSync(fd);
    }
  } catch {
    return undefined;
  }
}

/**
 * Writes the cache atomically (0600, in a 0700 folder) and removes the caches of other bundles.
 * A cache that cannot be written is skipped: the next run compiles again.
 */
export function writeCodeCache(path: string, data: Buffer, bundleId: string): void {
  try {
    const dir = dirname(path);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    for (const name of readdirSync(dir))
      if (name.startsWith("code-") && name.endsWith(".v8") && !name.startsWith(`code-${bundleId}-`))
        rmSync(join(dir, name), { force: true });
    const tmp = `${path}.${process.pid}`;
    writeFileSync(tmp, data, { mode: 0o600 });
    renameSync(tmp, path);
  } catch {
    // A read-only home (a hardened service): nothing kept.
  }
}
