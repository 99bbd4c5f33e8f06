import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

let root: string | undefined;

/**
 * The folder of PicoTrader's package.json, whether running from src/ (tests) or dist/ (built): the
 * first one up that names a package (dist/bin's only says that the bin is CommonJS).
 */
export function packageRoot(): string {
  if (root !== undefined) return root;
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!namesPackage(join(dir, "package.json"))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error("package.json of picotrader not found");
    dir = parent;
  }
  return (root = dir);
}

function namesPackage(file: string): boolean {
  return (
    existsSync(file) &&
    typeof (JSON.parse(readFileSync(file, "utf8")) as { name?: unknown }).name === "string"
  );
}
