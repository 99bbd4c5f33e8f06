// Bundles the compiled command line (dist/src/cli.js) into dist/bin/picotrader.js, the package's
// bin (npm run build, after tsc). One file and a few lazily loaded chunks (each command's own
// modules) instead of some 250 modules: Node.js resolves, compiles and links every module it loads,
// which cost a 3-node dry-run about 200 of its 550 ms of CPU. Native addons (ssh2's crypto
// binding, cpu-features) stay outside, loaded from node_modules as they were.
import { rmSync } from "node:fs";
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
await build({
  entryPoints: { picotrader: join(root, "dist", "src", "cli.js") },
  outdir,
  bundle: true,
  splitting: true,
  format: "esm",
  platform: "node",
  target: "node20",
  external: ["cpu-features"],
  plugins: [nativeAddons],
  // The CommonJS dependencies bundled in use require() and __dirname, which an ES module lacks (ssh2
  // names its folder only to find a Windows helper and, in its inlined WebAssembly, nothing).
  banner: {
    js: [
      'import { createRequire as picotraderRequire } from "node:module";',
      'import { fileURLToPath as picotraderPath } from "node:url";',
      "const require = picotraderRequire(import.meta.url);",
      "const __filename = picotraderPath(import.meta.url);",
      'const __dirname = __filename.slice(0, __filename.lastIndexOf("/"));',
    ].join("\n"),
  },
  sourcemap: true,
  logLevel: "warning",
});
