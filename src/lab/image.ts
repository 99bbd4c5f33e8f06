import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { LabError } from "../errors.js";
import { packageRoot } from "../paths.js";
import { run } from "../util/run.js";
import type { Arch, Release } from "./platforms.js";

/** Where built images live: outside the repository, shared by every lab and every checkout. */
export const IMAGE_CACHE = process.env.PICOTRADER_IMAGE_CACHE ?? "/var/cache/picotrader";

/** A built factory image: `rootfs` (overlay lower dir, never changed once built) and `repo` (apt). */
export interface Image {
  dir: string;
  rootfs: string;
  repo: string;
  recipe: string;
  release: Release;
  arch: Arch;
}

function recipeDir(): string {
  return join(packageRoot(), "src", "lab", "image");
}

/** Hash of every file of the recipe: a change of the build script or boot.ini makes a new image. */
export function recipeHash(): string {
  const hash = createHash("sha256");
  for (const name of readdirSync(recipeDir()).sort()) {
    hash
      .update(name)
      .update("\0")
      .update(readFileSync(join(recipeDir(), name)))
      .update("\0");
  }
  return hash.digest("hex").slice(0, 12);
}

function imageAt(recipe: string, release: Release, arch: Arch): Image {
  const suffix = [release === "bookworm" ? "" : `-${release}`, arch === "amd64" ? "" : `-${arch}`].join("");
  const dir = join(IMAGE_CACHE, `image-${recipe}${suffix}`);
  return { dir, rootfs: join(dir, "rootfs"), repo: join(dir, "repo"), recipe, release, arch };
}

/** The image of `release` and `arch` for the current recipe if it has been built, else undefined. */
export function findImage(release: Release = "bookworm", arch: Arch = "amd64"): Image | undefined {
  const image = imageAt(recipeHash(), release, arch);
  return existsSync(join(image.dir, "complete")) ? image : undefined;
}

/**
 * Returns the image for the current recipe, building it first when missing (about 90 s, needs
 * Debian's mirrors and mmdebstrap). A half-finished build is never used: it is built under a
 * temporary name and renamed into place; a lock keeps two builds from racing.
 */
export async function ensureImage(
  log: (line: string) => void = () => {},
  release: Release = "bookworm",
  arch: Arch = "amd64",
): Promise<Image> {
  const found = findImage(release, arch);
  if (found) return found;
  const image = imageAt(recipeHash(), release, arch);
  mkdirSync(IMAGE_CACHE, { recursive: true });
  const lock = `${image.dir}.lock`;
  await acquireDirLock(lock);
  try {
    if (existsSync(join(image.dir, "complete"))) return image;
    const tmp = `${image.dir}.tmp`;
    rmSync(tmp, { recursive: true, force: true });
    rmSync(image.dir, { recursive: true, force: true });
    log(
      `building the lab image ${image.recipe} (Debian ${release} ${arch} base and local apt repository)...`,
    );
    const started = Date.now();
    const result = await run("bash", [join(recipeDir(), "build.sh"), tmp, release, arch]);
    if (result.exitCode !== 0) {
      rmSync(tmp, { recursive: true, force: true });
      throw new LabError(
        `building the lab image failed (exit ${result.exitCode}); it needs root, mmdebstrap, apt-utils and Debian's mirrors\n${(result.stderr || result.stdout).trimEnd().split("\n").slice(-15).join("\n")}`,
      );
    }
    writeFileSync(join(tmp, "complete"), `${new Date().toISOString()} ${Date.now() - started}ms\n`);
    renameSync(tmp, image.dir);
    log(`built the lab image in ${((Date.now() - started) / 1000).toFixed(1)} s`);
    return image;
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

async function acquireDirLock(path: string): Promise<void> {
  for (let waited = 0; ; waited += 500) {
    try {
      mkdirSync(path);
      writeFileSync(join(path, "pid"), String(process.pid));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = Number(readFileSafe(join(path, "pid")));
      if (holder > 0 && !processAlive(holder)) {
        rmSync(path, { recursive: true, force: true });
        continue;
      }
      if (waited > 15 * 60_000) throw new LabError(`timed out waiting for the image build lock ${path}`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }
}

function readFileSafe(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return "";
  }
}

/**
 * True while a live process builds an image of another architecture than this machine's: it needs
 * the qemu registration, which the last `lab down` would otherwise take away in the middle.
 */
export function emulatedBuildInProgress(cache = IMAGE_CACHE): boolean {
  if (!existsSync(cache)) return false;
  return readdirSync(cache)
    .filter((n) => /-arm64\.lock$/.test(n))
    .some((n) => {
      const holder = Number(readFileSafe(join(cache, n, "pid")));
      return holder > 0 && processAlive(holder);
    });
}

/** True when a process with this PID exists. */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
