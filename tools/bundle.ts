// Bundles the compiled command line (dist/src/cli.js) into dist/bin/picotrader.cjs, and the launcher
// (dist/src/launcher.js) into dist/bin/picotrader.js, the package's bin (npm run build, after tsc).
// The bin is CommonJS too (dist/bin/package.json says so): an ES module as the entry point costs
// Node.js 20 its ES module loader, some 10 ms of every command's start. Its hashbang starts Node.js
// without NODE_EXTRA_CA_CERTS: Node.js 20 parses every certificate of that file before any script
// runs (Debian's whole bundle, 144 certificates, where a proxy's CA is added that way: some 50 ms of
// CPU), and PicoTrader makes no TLS connection of its own (git, ssh and etcdctl have their own).
// `env -S` is GNU coreutils' (8.30 and later) and the BSDs'.
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
/**
 * node-ssh takes only `Client` of ssh2, whose index also loads its server and its HTTP and HTTPS
 * agents (Node.js's http, https and tls modules): the bundle gives node-ssh the client alone.
 */
const ssh2ClientOnly: Plugin = {
  name: "ssh2-client-only",
  setup(b) {
    b.onResolve({ filter: /^ssh2$/ }, (args) =>
      args.importer.includes(join("node_modules", "node-ssh"))
        ? { path: "ssh2-client-only", namespace: "ssh2-client-only" }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: "ssh2-client-only" }, () => ({
      contents: 'module.exports = { Client: require("ssh2/lib/client.js") };',
      resolveDir: root,
      loader: "js",
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
  plugins: [nativeAddons, ssh2ClientOnly],
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
    js: '#!/usr/bin/env -S -u NODE_EXTRA_CA_CERTS node\nconst launcherUrl = require("node:url").pathToFileURL(__filename).href;',
  },
  logLevel: "warning",
});
// Only the module type of the two files beside it: packageRoot() looks past a package.json without a name.
writeFileSync(join(outdir, "package.json"), `${JSON.stringify({ type: "commonjs" })}\n`);
chmodSync(join(outdir, "picotrader.js"), 0o755);
