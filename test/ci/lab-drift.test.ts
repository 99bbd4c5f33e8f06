// The drift workflow's steps, run locally against a lab exactly as the job runs them: the plan's
// exit code, the Markdown summary, and the issue payload and gh calls it would send.
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import t from "tap";
import { labManifest } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import type { DriftIssue } from "../../src/report/drift.js";
import { run } from "../../src/util/run.js";
import { inLab, picotrader, sshAdmin, useLab } from "../helpers/lab.js";

const NAME = "tdrift";
const lab = await useLab(t, NAME, 2);

if (lab) {
  const dir = mkdtempSync(join(tmpdir(), "picotrader-drift-"));
  writeFileSync(join(dir, "cluster.yaml"), labManifest(lab, { runtime: false }));
  const cli = join(packageRoot(), "dist", "src", "cli.js");
  /** The job's plan step: its exit code, and plan.json left in `dir`. */
  const planStep = async () =>
    (
      await inLab(lab, [
        "bash",
        "-c",
        `cd ${dir} && node ${cli} reconcile -f cluster.yaml --dry-run --detailed-exitcode --json > plan.json`,
      ])
    ).exitCode;
  const summary = async () =>
    (await run("node", [cli, "drift-report", "--plan", join(dir, "plan.json"), "--markdown"])).stdout;
  const issue = async () => {
    const out = (await run("node", [cli, "drift-report", "--plan", join(dir, "plan.json"), "--issue"]))
      .stdout;
    writeFileSync(join(dir, "issue.json"), out);
    return JSON.parse(out) as DriftIssue;
  };
  const ghCalls = async (existing: string) =>
    (
      await run(
        "bash",
        [join(packageRoot(), ".github", "scripts", "drift-issue.sh"), join(dir, "issue.json")],
        { env: { ...process.env, DRY_RUN: "1", EXISTING_ISSUE: existing } },
      )
    ).stdout;

  t.test("converged: exit 0, a clean summary, and an open drift issue gets closed", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", join(dir, "cluster.yaml")]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await planStep(), 0);
    t.match(await summary(), /No changes: the cluster is converged\./);
    t.same((await issue()).drift, false);
    t.match(await ghCalls("7"), /^gh issue close 7 --comment /m);
    t.equal(await ghCalls(""), "", "no issue, nothing to do");
  });

  t.test("drift: exit 2, the summary names it, one issue opened then updated, not duplicated", async (t) => {
    await sshAdmin(lab, "node2", "hostname drifted");
    t.equal(await planStep(), 2);
    t.match(
      await summary(),
      /\*\*1 change\(s\) pending\.\*\*[\s\S]*### node2[\s\S]*`hostname`: hostname node2\/drifted -> node2/,
    );
    const first = await issue();
    t.equal(first.drift, true);
    t.match(first.title, /^Drift in lab-tdrift: 1 change\(s\) pending on node2$/);
    t.match(first.body, new RegExp(`^<!-- picotrader-drift:${first.fingerprint} -->`));
    t.match(await ghCalls(""), /^gh issue create --label picotrader-drift --title Drift\\ in\\ lab-tdrift/m);
    t.match(await ghCalls("7"), /^gh issue edit 7 /m);
    t.equal(await planStep(), 2);
    t.equal((await issue()).fingerprint, first.fingerprint, "the same drift has the same fingerprint");
    const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as { exitCode: number };
    t.equal(plan.exitCode, 2, "the JSON artifact carries the exit code");
  });

  t.test("a broken check exits 1, not 2", async (t) => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      labManifest(lab, { runtime: false }).replace("apiVersion: picotrader/v1", "apiVersion: nope"),
    );
    t.equal(await planStep(), 1);
  });
}
