// What ships: the tarball carries only what runs (no tests, CI, bench or sources), and the
// service unit is hardened, as systemd-analyze itself rates it.
import { writeFileSync, readFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { packageRoot } from "../../src/paths.js";
import { buildUnit } from "../../src/service.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

t.test("npm pack ships what runs and nothing else", async (t) => {
  const r = await run("npm", ["pack", "--dry-run", "--json", "--ignore-scripts"], { cwd: packageRoot() });
  t.equal(r.exitCode, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { files: { path: string }[] }[])[0]?.files.map((f) => f.path) ?? [];
  for (const needed of [
    "dist/bin/picotrader.js",
    "dist/bin/picotrader.cjs",
    "dist/bin/package.json",
    "schema/cluster.schema.json",
    "packaging/picotrader.service",
    "src/lab/supervise.sh",
    "src/lab/image/build.sh",
    "package.json",
    "README.md",
    "LICENSE",
  ])
    t.ok(files.includes(needed), `ships ${needed}`);
  t.strictSame(
    files.filter((f) => /^(test|bench|tools|\.ci|\.github|docs)\/|\.ts$|\.map$/.test(f)),
    [],
    "no tests, bench, tools, CI, TypeScript sources or source maps",
  );
  t.ok(files.length < 150, `${files.length} files`);
  const pkg = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as Record<
    string,
    unknown
  >;
  t.ok(pkg.repository && pkg.homepage, "repository and homepage are set");
});

t.test("the bin starts Node.js without NODE_EXTRA_CA_CERTS (read at start, never used)", async (t) => {
  const bin = join(packageRoot(), "dist", "bin", "picotrader.js");
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: "/nonexistent/picotrader-ca.pem" };
  const direct = await run(bin, ["--version"], { env });
  t.equal(direct.exitCode, 0, direct.stderr);
  t.notMatch(direct.stderr, /extra certs/, "run as a program: Node.js did not try to read the file");
  // Through `node`, the hashbang is not read: the same file is tried (what the test above would see).
  const throughNode = await run(process.execPath, [bin, "--version"], { env });
  t.match(throughNode.stderr, /Ignoring extra certs from `\/nonexistent\/picotrader-ca\.pem`/);
});

t.test("the service unit: exposure at most 4.0 in systemd-analyze security", async (t) => {
  const dir = tempDir(t, "unit");
  const unit = join(dir, "picotrader.service");
  writeFileSync(
    unit,
    buildUnit(readFileSync(join(packageRoot(), "packaging", "picotrader.service"), "utf8"), {
      user: "picotrader",
      group: "picotrader",
      home: "/var/lib/picotrader-controller",
      repo: "/var/lib/picotrader-controller/cluster",
      manifest: "/var/lib/picotrader-controller/cluster/cluster.yaml",
      node: process.execPath,
      cli: "/usr/lib/node_modules/picotrader/dist/bin/picotrader.js",
      interval: "5m",
    }),
  );
  const r = await run("systemd-analyze", ["security", "--offline=true", "--no-pager", unit]);
  const score = /Overall exposure level for picotrader\.service: ([\d.]+)/.exec(r.stdout)?.[1];
  t.ok(score !== undefined, r.stdout.slice(-500) + r.stderr);
  t.ok(Number(score) <= 4.0, `exposure ${score} (at most 4.0)`);
  t.match(readFileSync(unit, "utf8"), /^User=picotrader$/m, "runs as its own user, not root");
});
