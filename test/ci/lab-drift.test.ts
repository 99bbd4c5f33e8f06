// The drift workflow's steps, run locally against a lab exactly as the job runs them: the plan's
// exit code, the Markdown summary, and the issue payload and the gh calls it makes (to a fake gh
// on PATH that answers like GitHub's, so the real branches of the script run, de-duplication too).
import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import t from "tap";
import { labManifest } from "../../src/lab/lab.js";
import { packageRoot } from "../../src/paths.js";
import type { DriftIssue } from "../../src/report/drift.js";
import type { ReconcileReport } from "../../src/report/json.js";
import { run } from "../../src/util/run.js";
import { inLab, picotrader, sshAdmin, useLab } from "../helpers/lab.js";
import { tempDir } from "../helpers/temp.js";

const NAME = "tdrift";
const lab = await useLab(t, NAME, 2);

if (lab) {
  const dir = tempDir(t, "drift");
  writeFileSync(join(dir, "cluster.yaml"), labManifest(lab, { runtime: false }));
  const cli = join(packageRoot(), "dist", "bin", "picotrader.js");
  /** The job's plan step: its exit code, and plan.json left in `dir`. */
  const planStep = async () =>
    (
      await inLab(lab, [
        "bash",
        "-c",
        `cd ${dir} && node ${cli} reconcile -f cluster.yaml --dry-run --detailed-exitcode --json --out saved-plan.json > plan.json`,
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
  // A fake gh: logs each call, answers `issue list` with the open issue's number and `issue view`
  // with its body (both already as --jq would extract them), and succeeds.
  const bin = join(dir, "bin");
  mkdirSync(bin);
  writeFileSync(
    join(bin, "gh"),
    [
      "#!/bin/sh",
      'printf "%s\\n" "$*" >> "$GH_LOG"',
      'case "$1 $2" in',
      '  "issue list") printf "%s" "$GH_OPEN" ;;',
      '  "issue view") printf "%s\\n" "$GH_BODY" ;;',
      "esac",
      "",
    ].join("\n"),
  );
  chmodSync(join(bin, "gh"), 0o755);
  /** Runs the workflow's issue step against the fake gh: its exit code and the gh calls, one a line. */
  const ghCalls = async (open: string, body = "") => {
    const log = join(dir, "gh.log");
    rmSync(log, { force: true });
    const r = await run(
      "bash",
      [join(packageRoot(), ".github", "scripts", "drift-issue.sh"), join(dir, "issue.json")],
      {
        env: {
          ...process.env,
          PATH: `${bin}:${process.env.PATH ?? ""}`,
          GH_LOG: log,
          GH_OPEN: open,
          GH_BODY: body,
        },
      },
    );
    let calls = "";
    try {
      calls = readFileSync(log, "utf8");
    } catch {
      calls = "";
    }
    return { exitCode: r.exitCode, calls, stderr: r.stderr };
  };

  t.test("converged: exit 0, a clean summary, and an open drift issue gets closed", async (t) => {
    const r = await picotrader(lab, ["reconcile", "-f", join(dir, "cluster.yaml"), "--yes"]);
    t.equal(r.exitCode, 0, r.stderr);
    t.equal(await planStep(), 0);
    t.match(await summary(), /No changes: the cluster is converged\./);
    t.strictSame((await issue()).drift, false);
    const close = await ghCalls("7");
    t.equal(close.exitCode, 0, close.stderr);
    t.match(
      close.calls,
      /^issue list --label picotrader-drift --state open --json number --jq .*\nissue close 7 --comment /,
    );
    const none = await ghCalls("");
    t.equal(none.exitCode, 0, none.stderr);
    t.equal(
      none.calls,
      "issue list --label picotrader-drift --state open --json number --jq .[0].number // empty\n",
      "no issue: only the look-up",
    );
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
    const created = await ghCalls("");
    t.equal(created.exitCode, 0, created.stderr);
    t.match(created.calls, /^label create picotrader-drift --force /m);
    t.match(
      created.calls,
      /^issue create --label picotrader-drift --title Drift in lab-tdrift: 1 change\(s\) pending on node2 --body-file /m,
    );
    const same = await ghCalls("7", first.body);
    t.equal(same.exitCode, 0, same.stderr);
    t.strictSame(
      same.calls
        .split("\n")
        .filter(Boolean)
        .map((c) => c.split(" ").slice(0, 2).join(" ")),
      ["issue list", "issue view"],
      "the same drift on the open issue: not duplicated, not edited",
    );
    const changed = await ghCalls("7", "<!-- picotrader-drift:0000000000000000 -->\nolder drift");
    t.equal(changed.exitCode, 0, changed.stderr);
    t.match(
      changed.calls,
      /^issue edit 7 --title Drift in lab-tdrift/m,
      "a new drift updates the open issue",
    );
    t.notMatch(changed.calls, /^issue create/m);
    t.equal(await planStep(), 2);
    t.equal((await issue()).fingerprint, first.fingerprint, "the same drift has the same fingerprint");
    const plan = JSON.parse(readFileSync(join(dir, "plan.json"), "utf8")) as { exitCode: number };
    t.equal(plan.exitCode, 2, "the JSON artifact carries the exit code");
    const saved = JSON.parse(readFileSync(join(dir, "saved-plan.json"), "utf8")) as ReconcileReport;
    t.equal(
      saved.saved?.manifest,
      join(dir, "cluster.yaml"),
      "the saved plan a reviewer approves is attached too",
    );
    t.match(saved.plan.manifestDigest, /^[0-9a-f]{64}$/);
  });

  t.test("a broken check exits 1, not 2", async (t) => {
    writeFileSync(
      join(dir, "cluster.yaml"),
      labManifest(lab, { runtime: false }).replace("apiVersion: picotrader/v1", "apiVersion: nope"),
    );
    t.equal(await planStep(), 1);
  });
}
