// Bundles the compiled command line (dist/src/cli.js) into dist/bin/picotrader.cjs, and the launcher
// (dist/src/launcher.js) into dist/bin/picotrader.js, the package's bin (npm run build, after tsc).
// The bin is CommonJS too (dist/bin/package.json says so): an ES module as the entry point costs
// Node.js 20 its ES module loader, some 10 ms of every command's start.
// One file instead of some 250 modules: Node.js resolves, compiles and links every module it loads,
// which cost a 3-node dry-run about 200 of its 550 ms of CPU; the launcher then spares the compile
// itself with V8's code cache. Native addons (ssh2's crypto binding, cpu-features) stay outside,
// loaded from node_modules as they were.
import { createHash } from "node:crypto";
import { chmodSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join, relative, resolve } from "node:path";
import { build, type Plugin } from "esbuild";
import { packageRoot } from "../src/paths.js";

const root = packageRoot();

/** `require("./x.node")` inside a package becomes `require("package/path/x.node")`, left to Node.js. */
const nativeAddons: Plugin = {
  name: "native-addons",
  setup(b) {
    b.onResolve({ filter: /\.node$/ }, (args) => ({
      path: relative(join(root, "node_modules"), resolve(args.resolveDir, args.path)),
      external: true,
    }));
  },
};
const outdir = join(root, "dist", "bin");
rmSync(outdir, { recursive: true, force: true });
const bundle = join(outdir, "picotrader.cjs");
// One CommonJS file, so that the launcher can hand V8 its code cache (Node.js 20 has none for ES
// modules): what a command imports lazily is still evaluated only when it runs.
await build({
  entryPoints: [join(root, "dist", "src", "cli.js")],
  outfile: bundle,
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  external: ["cpu-features"],
  plugins: [nativeAddons],
  define: { "import.meta.url": "picotraderUrl" },
  banner: { js: 'const picotraderUrl = require("node:url").pathToFileURL(__filename).href;' },
  sourcemap: true,
  logLevel: "warning",
});
// The launcher compiles the bundle inside a function: its first line must not be a hashbang (made a
// comment of the same length, so that the source map's lines still hold).
const built = readFileSync(bundle, "utf8");
const code = built.startsWith("#!") ? `//${built.slice(2)}` : built;
writeFileSync(bundle, code);
const bundleId = createHash("sha256").update(code).digest("hex").slice(0, 16);
await build({
  entryPoints: [join(root, "dist", "src", "launcher.js")],
  outfile: join(outdir, "picotrader.js"),
  bundle: true,
  format: "cjs",
  platform: "node",
  target: "node20",
  define: { PICOTRADER_BUNDLE_ID: JSON.stringify(bundleId), "import.meta.url": "launcherUrl" },
  banner: {
    js: '#!/usr/bin/env node\nconst launcherUrl = require("node:url").pathToFileURL(__filename).href;',
  },
  logLevel: "warning",
});
// Only the module type of the two files beside it: packageRoot() looks past a package.json without a name.
writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
chmodSync(join(outdir, "picotrader.js"), 0o755);
