// Bundles the compiled command line (dist/src/cli.js) into dist/bin/picotrader.js, the package's
// bin (npm run build, after tsc). One file and a few lazily loaded chunks (each command's own
// modules) instead of some 250 modules: Node.js resolves and links every module it loads, and on a
// 3-node dry-run that cost about as much CPU as the run itself. ssh2 stays outside: it loads its
// native crypto binding by a path relative to its own folder.
import { rmSync } from "node:fs";
import { join } from "node:path";
import { build } from "esbuild";
import { packageRoot } from "../src/paths.js";

const root = packageRoot();
const outdir = join(root, "dist", "bin");
rmSync(outdir, { recursive: true, force: true });
await build({
  entryPoints: { picotrader: join(root, "dist", "src", "cli.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["ssh2", "cpu-features"],
  // The CommonJS dependencies bundled in call require(): an ES module has none of its own.
  banner: {
    js: 'import { createRequire as picotraderRequire } from "node:module";\nconst require = picotraderRequire(import.meta.url);',
  },
  sourcemap: true,
  logLevel: "warning",
});
