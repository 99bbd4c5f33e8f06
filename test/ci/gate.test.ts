// The gates themselves: .ci/run's verdict fails on a skip, and each test file belongs to exactly one
// job by its name (lab-*.test.ts boot a lab and need root; the others are the unit tests).
import { readdirSync, readFileSync } from "node:fs";
import { join, relative } from "node:path";
import t from "tap";
import { parse } from "yaml";
import { packageRoot } from "../../src/paths.js";
import { run } from "../../src/util/run.js";

const root = packageRoot();

async function verdict(log: string) {
  return run("bash", [join(root, "scripts", "tap-verdict.sh")], { input: log });
}

t.test("the CI verdict: a skip or a todo fails, as do a failure and a run with no summary", async (t) => {
  const ok = await verdict("ok 1 - x\n# { total: 4, pass: 4 }\n");
  t.equal(ok.exitCode, 0);
  t.equal(ok.stdout.trim(), "4 passed, 0 failed, 0 skipped");
  const skipped = await verdict("# { total: 5, pass: 4, skip: 1 }\n");
  t.equal(skipped.exitCode, 1, "a skipped lab file fails the gate");
  t.equal(skipped.stdout.trim(), "4 passed, 0 failed, 1 skipped");
  t.match(skipped.stderr, /1 skipped and 0 todo/);
  t.equal((await verdict("# { total: 5, pass: 4, todo: 1 }\n")).exitCode, 1, "a todo fails");
  const failed = await verdict("# { total: 5, pass: 4, fail: 1 }\n");
  t.equal(failed.exitCode, 1);
  t.equal(failed.stdout.trim(), "4 passed, 1 failed, 0 skipped");
  const none = await verdict("npm ERR! something\n");
  t.equal(none.exitCode, 1, "no summary at all fails");
  t.equal(none.stdout.trim(), "0 passed, 1 failed");
  t.equal((await verdict("# { total: 0, pass: 0 }\n")).exitCode, 1, "no test run fails");
});

t.test(".ci/run sets CI and uses the verdict", async (t) => {
  const script = readFileSync(join(root, ".ci", "run"), "utf8");
  t.match(script, /^export CI=true$/m);
  t.match(script, /bash scripts\/tap-verdict\.sh "\$log"/);
});

function testFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return ["fixtures", "helpers"].includes(e.name) ? [] : testFiles(path);
    return e.name.endsWith(".test.ts") ? [relative(root, path)] : [];
  });
}

t.test("a test file boots a lab exactly when its name says lab-*.test.ts", async (t) => {
  const files = testFiles(join(root, "test"));
  t.ok(files.length > 20);
  const booting = files.filter((f) => /\buseLab\(/.test(readFileSync(join(root, f), "utf8")));
  const named = files.filter((f) => /(^|\/)lab-[^/]*\.test\.ts$/.test(f));
  t.strictSame(booting.sort(), named.sort());
});

t.test(
  "the validate workflow runs the unit tests, and npm run test:unit leaves out exactly the lab files",
  async (t) => {
    const wf = parse(readFileSync(join(root, ".github", "workflows", "validate.yml"), "utf8")) as {
      jobs: { validate: { steps: { run?: string }[] } };
    };
    t.ok(wf.jobs.validate.steps.some((s) => s.run === "npm run test:unit"));
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    t.equal(
      pkg.scripts["test:unit"],
      "tap --exclude='test/fixtures/**' --exclude='test/helpers/**' --exclude='test/**/lab-*.test.ts'",
    );
    const listed = await run(
      "npx",
      [
        "tap",
        "list",
        "--exclude=test/fixtures/**",
        "--exclude=test/helpers/**",
        "--exclude=test/**/lab-*.test.ts",
      ],
      { cwd: root },
    );
    const units = listed.stdout.trim().split("\n").sort();
    t.strictSame(
      units,
      testFiles(join(root, "test"))
        .filter((f) => !/(^|\/)lab-/.test(f))
        .sort(),
    );
  },
);
