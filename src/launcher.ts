// The installed bin (dist/bin/picotrader.js, bundled as CommonJS): runs the bundled command line
// (picotrader.cjs beside it, built by tools/bundle.ts) through V8's code cache, as
// src/util/code-cache.ts explains. The bundle's digest is written in at build time.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { Script } from "node:vm";
import { codeCachePath, readCodeCache, writeCodeCache } from "./util/code-cache.js";

declare const PICOTRADER_BUNDLE_ID: string;

const dir = dirname(fileURLToPath(import.meta.url));
const file = join(dir, "picotrader.cjs");
const cachePath = codeCachePath(PICOTRADER_BUNDLE_ID, process.argv.slice(2), process.env);
const cachedData = readCodeCache(cachePath);
// CommonJS's own wrapper, so that the bundle sees require, module and __filename as under require().
const script = new Script(
  `(function (exports, require, module, __filename, __dirname) {${readFileSync(file, "utf8")}\n})`,
  { filename: file, ...(cachedData ? { cachedData } : {}) },
);
// Kept after a run that succeeded (0, or 2: changes pending), so that a mistyped command keeps none.
if (cachedData === undefined || script.cachedDataRejected === true)
  process.once("exit", (code) => {
    if (code === 0 || code === 2) writeCodeCache(cachePath, script.createCachedData(), PICOTRADER_BUNDLE_ID);
  });
const module = { exports: {} };
(script.runInThisContext() as (...args: unknown[]) => void).call(
  module.exports,
  module.exports,
  createRequire(file),
  module,
  file,
  dir,
);
