// No stack trace ever reaches a user: a table of bad invocations of the built CLI, each ending in
// exit 1 and a one-line "error: …" that names the thing, and nothing lost on the way.
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";

const cli = join(packageRoot(), "dist", "src", "cli.js");
const dir = mkdtempSync(join(tmpdir(), "picotrader-cli-"));
writeFileSync(join(dir, "empty.json"), "{}\n");
writeFileSync(join(dir, "bad.json"), "not json\n");
writeFileSync(join(dir, "partial.yaml"), "apiVersion: picotrader/v1\n");
writeFileSync(join(dir, "broken.yaml"), "cluster: {name: [\n");

/** Each bad invocation, with what its error must name. */
const cases: [string[], RegExp][] = [
  [["nope"], /^error: unknown command "nope"/],
  [["validate", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: .*cannot read/],
  [["validate", "--bogus"], /^error: Unknown option '--bogus'/],
  [["validate", "-f", "partial.yaml"], /^error: partial\.yaml:1:1: .*missing required key "cluster"/],
  [["validate", "-f", "broken.yaml"], /^error: broken\.yaml:\d+:\d+: /],
  [["reconcile", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: /],
  [
    ["reconcile", "--concurrency", "x", "-f", "partial.yaml"],
    /^error: --concurrency must be a positive integer/,
  ],
  [["reconcile", "--deadman-seconds", "1"], /^error: --deadman-seconds must be an integer of at least 5/],
  [["reconcile", "--out", "x.json"], /^error: --out saves a plan to review: use it with --dry-run/],
  [["reconcile", "-f", "partial.yaml", "--only", "x"], /^error: partial\.yaml:1:1: /],
  [["apply"], /^error: usage: picotrader apply PLAN\.json/],
  [["apply", "/nonexistent.json"], /^error: \/nonexistent\.json: not a saved plan: ENOENT/],
  [["apply", "bad.json"], /^error: bad\.json: not a saved plan/],
  [
    ["apply", "empty.json"],
    /^error: empty\.json: not a saved plan \(make one with reconcile --dry-run --out/,
  ],
  [["facts", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: /],
  [["status", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: /],
  [["watch", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: /],
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
  [["tftp-prepare"], /^error: tftp-prepare: no image file/],
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
  [["exec", "-f", "/nonexistent.yaml", "--", "true"], /^error: \/nonexistent\.yaml:1:1: /],
  [["reboot", "-f", "/nonexistent.yaml"], /^error: \/nonexistent\.yaml:1:1: /],
  [["shutdown", "-f", "partial.yaml"], /^error: partial\.yaml:1:1: /],
  [["lab", "nope"], /^error: unknown lab command "nope"/],
  [["lab", "ssh"], /^error: usage: picotrader lab ssh NODE/],
  [["lab", "reset"], /^error: usage: picotrader lab reset NODE/],
  [["lab", "down", "--name", "no-such-lab"], /^error: no lab named "no-such-lab"/],
  [["install-service", "--bogus"], /^error: Unknown option '--bogus'/],
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
