// No stack trace ever reaches a user: a table of bad invocations of the built CLI, each ending in
// exit 1 and a one-line "error: …" that names the thing, and nothing lost on the way.
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";
import { tempDir } from "../helpers/temp.js";

const cli = join(packageRoot(), "dist", "bin", "picotrader.js");
const dir = tempDir(t, "cli");
writeFileSync(join(dir, "empty.json"), "{}\n");
writeFileSync(join(dir, "bad.json"), "not json\n");
writeFileSync(join(dir, "partial.yaml"), "apiVersion: picotrader/v1\n");
writeFileSync(join(dir, "broken.yaml"), "cluster: {name: [\n");

/** Each bad invocation, with what its error must name. */
const cases: [string[], RegExp][] = [
  [["nope"], /^error: unknown command 'nope'/],
  [["validate", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: .*cannot read/],
  [["validate", "--bogus"], /^error: unknown option '--bogus'/],
  [["validate", "-f", "partial.yaml"], /^partial\.yaml:1:1: error: .*missing required key "cluster"/],
  [["validate", "-f", "broken.yaml"], /^broken\.yaml:\d+:\d+: error: /],
  [["reconcile", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
  [
    ["reconcile", "--concurrency", "x", "-f", "partial.yaml"],
    /^error: option '--concurrency <n>' argument 'x' is invalid\. It must be a whole number of at least 1/,
  ],
  [
    ["reconcile", "--deadman-seconds", "1"],
    /^error: option '--deadman-seconds <n>' argument '1' is invalid\. It must be a whole number of at least 5/,
  ],
  [["status", "--concurrency", "0"], /^error: option '--concurrency <n>' argument '0' is invalid/],
  [
    ["exec", "--concurrency", "2.5", "--", "true"],
    /^error: option '--concurrency <n>' argument '2\.5' is invalid/,
  ],
  [
    ["reconcile", "--only", ","],
    /^error: option '--only <nodes>' argument ',' is invalid\. It must name at least one node/,
  ],
  [["reboot", "--timeout", "soon"], /^error: option '--timeout <seconds>' argument 'soon' is invalid/],
  [["reconcile", "--out", "x.json"], /^error: --out saves a plan to review: use it with --dry-run/],
  [["reconcile", "-f", "partial.yaml", "--only", "x"], /^partial\.yaml:1:1: error: /],
  [["apply"], /^error: missing required argument 'plan'/],
  [["apply", "/nonexistent.json"], /^error: \/nonexistent\.json: not a saved plan: ENOENT/],
  [["apply", "bad.json"], /^error: bad\.json: not a saved plan/],
  [
    ["apply", "empty.json"],
    /^error: empty\.json: not a saved plan \(make one with reconcile --dry-run --out/,
  ],
  [["facts", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
  [["status", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
  [["watch", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
  [
    ["drift-report", "--plan", "empty.json"],
    /^error: empty\.json: not a reconcile --json report \(no plan\.nodes/,
  ],
  [["drift-report", "--plan", "empty.json", "--issue"], /^error: empty\.json: not a reconcile --json report/],
  [
    ["drift-report", "--plan", "/nonexistent.json"],
    /^error: \/nonexistent\.json: not a reconcile --json report/,
  ],
  [["drift-report", "--plan", "bad.json"], /^error: bad\.json: not a reconcile --json report/],
  [["tftp-prepare"], /^error: missing required argument 'image'/],
  [
    ["tftp-prepare", "/nonexistent.img", "--out", "keep"],
    /^error: tftp-prepare: cannot read \/nonexistent\.img: ENOENT/,
  ],
  [
    ["tftp-prepare", "empty.json", "--part-size", "7"],
    /^error: --part-size must be a whole number of 512-byte blocks/,
  ],
  [["tftp-prepare", "empty.json", "--part-size", "lots"], /^error: not a size: "lots"/],
  [
    ["tftp-prepare", "empty.json", "--boot", "/nonexistent-dir"],
    /^error: tftp-prepare: cannot read \/nonexistent-dir/,
  ],
  [["exec", "-f", "/nonexistent.yaml", "--", "true"], /^\/nonexistent\.yaml:1:1: error: /],
  [["reboot", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
  [["shutdown", "-f", "partial.yaml"], /^partial\.yaml:1:1: error: /],
  [["lab", "nope"], /^error: unknown command 'nope'/],
  [["lab", "ssh"], /^error: missing required argument 'node'/],
  [["lab", "reset"], /^error: missing required argument 'node'/],
  [["lab", "down", "--name", "no-such-lab"], /^error: no lab named "no-such-lab"/],
  [["install-service", "--bogus"], /^error: unknown option '--bogus'/],
  [["exec", "-f", "partial.yaml"], /^error: missing required argument 'command'/],
  [["watch", "--interval", "often", "-f", "partial.yaml"], /^error: --interval: "often" is not a duration/],
  [["init", "--subnet", "10.0.0.0/24"], /^error: init: no --node/],
  [["trust", "-f", "/nonexistent.yaml"], /^\/nonexistent\.yaml:1:1: error: /],
];

t.test("every bad invocation: exit 1, one error line naming the thing, no stack trace", async (t) => {
  // A TFTP output made earlier must survive a failed tftp-prepare.
  mkdirSync(join(dir, "keep", "c2"), { recursive: true });
  writeFileSync(join(dir, "keep", "c2", "SHA256SUMS"), "kept\n");
  t.ok(cases.length >= 30, `${cases.length} bad invocations`);
  for (const [args, want] of cases) {
    const r = await run("node", [cli, ...args], { cwd: dir });
    const all = `${r.stdout}${r.stderr}`;
    t.equal(r.exitCode, 1, `${args.join(" ")}: exit 1`);
    t.notMatch(all, /^\s+at .+[(:]\d+/m, `${args.join(" ")}: no stack trace`);
    t.match(r.stderr, want, `${args.join(" ")}: ${r.stderr.split("\n")[0]}`);
  }
  t.ok(existsSync(join(dir, "keep", "c2", "SHA256SUMS")), "a failed tftp-prepare removed nothing");
});

t.test("help and version: exit 0, on stdout", async (t) => {
  const version = (await run("node", [cli, "--version"])).stdout.trim();
  t.match(version, /^\d+\.\d+\.\d+$/, "--version prints the package's version");
  const top = await run("node", [cli, "--help"]);
  t.equal(top.exitCode, 0);
  for (const name of [
    "init",
    "trust",
    "validate",
    "reconcile",
    "apply",
    "status",
    "facts",
    "watch",
    "exec",
    "lab",
  ])
    t.match(top.stdout, new RegExp(`^ {2}${name} `, "m"), `--help lists ${name}`);
  // Every option of every command is documented, with one example.
  for (const [command, options] of [
    [
      "reconcile",
      [
        "--dry-run",
        "--out",
        "--only",
        "--concurrency",
        "--deadman-seconds",
        "--accept-new-host-keys",
        "--host-fingerprint",
        "--yes",
        "--allow-rebuild",
        "--json",
        "--markdown",
        "--detailed-exitcode",
      ],
    ],
    ["exec", ["--only", "--concurrency", "--accept-new-host-keys", "--host-fingerprint", "--json"]],
    ["status", ["--only", "--concurrency", "--accept-new-host-keys", "--host-fingerprint", "--json"]],
    [
      "watch",
      [
        "--interval",
        "--no-fetch",
        "--allow-dirty",
        "--concurrency",
        "--deadman-seconds",
        "--accept-new-host-keys",
      ],
    ],
    ["reboot", ["--timeout", "--yes", "--only"]],
    ["trust", ["--yes", "--host-fingerprint"]],
    ["init", ["--subnet", "--node", "--virtual-ip", "--admin-key", "--force"]],
  ] as const) {
    for (const form of [
      ["help", command],
      [command, "--help"],
    ]) {
      const r = await run("node", [cli, ...form]);
      t.equal(r.exitCode, 0, `${form.join(" ")}: exit 0`);
      t.match(r.stdout, /\nExample:\n {2}\$ picotrader /, `${form.join(" ")}: an example`);
      for (const o of options) t.match(r.stdout, new RegExp(`${o}[ ,<]`), `${form.join(" ")} documents ${o}`);
    }
  }
  const hash = await run("node", [cli, "hash-password", "--help"], { input: "" });
  t.equal(hash.exitCode, 0, "hash-password --help exits 0");
  t.notMatch(hash.stderr, /password:/, "and asks for no password");
});

t.test("did you mean: the nearest command or option", async (t) => {
  for (const [args, want] of [
    [["reconcle"], /Did you mean reconcile\?/],
    [["reconcile", "--dryrun"], /Did you mean --dry-run\?/],
    [["status", "--jsn"], /Did you mean --json\?/],
    [["lab", "sss"], /Did you mean ssh\?/],
  ] as const) {
    const r = await run("node", [cli, ...args]);
    t.equal(r.exitCode, 1, `${args.join(" ")}: exit 1`);
    t.match(r.stderr, want, args.join(" "));
  }
});

t.test("validate takes the file as an argument or with -f", async (t) => {
  const example = join(packageRoot(), "cluster.yaml");
  for (const args of [
    ["validate", example],
    ["validate", "-f", example],
  ]) {
    const r = await run("node", [cli, ...args]);
    t.equal(r.exitCode, 0, args.join(" "));
    t.match(r.stdout, /: valid \(4 nodes\)/);
  }
});
