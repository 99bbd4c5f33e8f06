import { describeDiagnostic } from "../engine/diagnostics.js";
import { describeDisposition } from "../engine/dispositions.js";
import { describeRestore } from "../engine/record.js";
import type { NodeResult } from "../engine/results.js";
import type { Plan } from "../engine/types.js";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The plan as Markdown, for CI summaries ($GITHUB_STEP_SUMMARY). Pure. */
export function renderPlanMarkdown(plan: Plan, results: NodeResult[]): string {
  const pending = plan.nodes.reduce((sum, n) => sum + n.changes.length, 0);
  const unknown = plan.nodes.filter((n) => n.state === "unknown").map((n) => n.node);
  // "Converged" only when every node was observed completely: unknown is never taken for it.
  const headline = [
    ...(unknown.length > 0
      ? [`**State unknown on ${unknown.join(", ")}** (unreachable, or some facts could not be read).`, ""]
      : []),
    pending > 0
      ? `**${pending} change(s) pending.**`
      : unknown.length === 0
        ? "No changes: the cluster is converged."
        : "No changes pending on the nodes that could be observed.",
  ];
  const out = [`## PicoTrader plan: ${plan.cluster}`, "", ...headline, ""];
  out.push("| node | state | outcome | changes |", "| --- | --- | --- | --- |");
  for (const n of plan.nodes) {
    const outcome = results.find((r) => r.node === n.node)?.outcome ?? n.status;
    out.push(`| ${n.node} | ${n.state} | ${outcome} | ${n.changes.length} |`);
  }
  for (const n of plan.nodes.filter(
    (n) => n.changes.length > 0 || n.diagnostics.length > 0 || n.restored !== undefined,
  )) {
    out.push("", `### ${n.node}`, "");
    for (const c of n.changes)
      out.push(
        `- \`${c.concern}\`: ${cell(c.summary)}${c.risk ? ` (risk: ${c.risk})` : ""}${cell(describeDisposition(c.disposition))}`,
      );
    for (const e of [...(n.restored ?? []).map(describeRestore), ...n.diagnostics.map(describeDiagnostic)])
      out.push(`- :warning: ${cell(e)}`);
  }
  return out.join("\n") + "\n";
}
