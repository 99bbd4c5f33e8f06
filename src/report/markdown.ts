import { describeRestore } from "../engine/record.js";
import type { NodeResult } from "../engine/reconcile.js";
import type { Plan } from "../engine/types.js";

function cell(text: string): string {
  return text.replace(/\|/g, "\\|").replace(/\n/g, " ");
}

/** The plan as Markdown, for CI summaries ($GITHUB_STEP_SUMMARY). Pure. */
export function renderPlanMarkdown(plan: Plan, results: NodeResult[]): string {
  const pending = plan.nodes.reduce((sum, n) => sum + n.changes.length, 0);
  const out = [
    `## PicoTrader plan: ${plan.cluster}`,
    "",
    pending === 0 ? "No changes: the cluster is converged." : `**${pending} change(s) pending.**`,
    "",
  ];
  out.push("| node | outcome | changes |", "| --- | --- | --- |");
  for (const n of plan.nodes) {
    const outcome = results.find((r) => r.node === n.node)?.outcome ?? n.status;
    out.push(`| ${n.node} | ${outcome} | ${n.changes.length} |`);
  }
  for (const n of plan.nodes.filter(
    (n) => n.changes.length > 0 || n.errors.length > 0 || n.restored !== undefined,
  )) {
    out.push("", `### ${n.node}`, "");
    for (const c of n.changes)
      out.push(`- \`${c.concern}\`: ${cell(c.summary)}${c.risk ? ` (risk: ${c.risk})` : ""}`);
    for (const e of [...(n.restored ?? []).map(describeRestore), ...n.errors])
      out.push(`- :warning: ${cell(e)}`);
  }
  return out.join("\n") + "\n";
}
