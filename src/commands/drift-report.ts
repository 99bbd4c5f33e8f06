// `picotrader drift-report`: a saved `reconcile --json` report rendered for CI, as the Markdown
// summary or the drift issue's payload.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import type { ReconcileReport } from "../report/json.js";
import { example, type Finish } from "./options.js";

export function defineDriftReport(program: Command, finish: Finish): void {
  program
    .command("drift-report")
    .description("CI: a saved reconcile --json report as the Markdown summary, or the drift issue's payload")
    .option("--plan <file>", "the saved report", "plan.json")
    .option("--markdown", "the Markdown summary (the default)", false)
    .option("--issue", "the drift issue's payload, as JSON", false)
    .addHelpText(
      "after",
      example(
        "picotrader reconcile --dry-run --json > plan.json",
        "picotrader drift-report --plan plan.json --issue",
      ),
    )
    .action(async (flags: { plan: string; issue: boolean }) => {
      let report: ReconcileReport;
      try {
        report = JSON.parse(readFileSync(flags.plan, "utf8")) as ReconcileReport;
      } catch (err) {
        throw new PicoError(`${flags.plan}: not a reconcile --json report: ${(err as Error).message}`);
      }
      if (!Array.isArray(report?.plan?.nodes) || !Array.isArray(report.results))
        throw new PicoError(
          `${flags.plan}: not a reconcile --json report (no plan.nodes or results): make it with picotrader reconcile --dry-run --json > ${flags.plan}`,
        );
      if (!flags.issue) {
        const { renderPlanMarkdown } = await import("../report/markdown.js");
        process.stdout.write(renderPlanMarkdown(report.plan, report.results));
        return finish(0);
      }
      const { buildDriftIssue } = await import("../report/drift.js");
      const issue = buildDriftIssue(report);
      process.stdout.write(JSON.stringify(issue, null, 2) + "\n");
      // Unknown state is an error of the check: the issue script must neither close nor open anything.
      if (issue.unknown.length > 0)
        process.stderr.write(
          `state unknown on ${issue.unknown.join(", ")}: the drift issue is left as it is\n`,
        );
      finish(issue.unknown.length > 0 ? 1 : 0);
    });
}
