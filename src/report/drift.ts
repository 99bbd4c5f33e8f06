import { createHash } from "node:crypto";
import { renderPlanMarkdown } from "./markdown.js";
import type { ReconcileReport } from "./json.js";

/** Marks the drift issue's body so that the workflow finds and updates the one open issue. */
export const DRIFT_MARKER = "picotrader-drift";

/** What the drift workflow sends to the issue tracker: open/update one issue, or close it. */
export interface DriftIssue {
  drift: boolean;
  /** Nodes whose state is unknown: then nothing may be closed or said of the cluster as a whole. */
  unknown: string[];
  /** sha256 of the sorted pending changes; "" when there is no drift. */
  fingerprint: string;
  title: string;
  body: string;
}

/**
 * The issue for a dry-run report: its fingerprint is the same for the same drift whatever the
 * order nodes answered in, so a scheduled check updates one issue instead of opening many. Pure.
 */
export function buildDriftIssue(report: ReconcileReport): DriftIssue {
  const changes = report.plan.nodes
    .flatMap((n) => n.changes.map((c) => `${n.node}|${c.concern}|${c.summary}`))
    .sort();
  const unknown = report.plan.nodes.filter((n) => n.state === "unknown").map((n) => n.node);
  if (changes.length === 0 && unknown.length > 0) {
    return {
      drift: false,
      unknown,
      fingerprint: "",
      title: `State unknown in ${report.plan.cluster}: ${unknown.join(", ")}`,
      body: renderPlanMarkdown(report.plan, report.results),
    };
  }
  if (changes.length === 0) {
    return {
      drift: false,
      unknown,
      fingerprint: "",
      title: `No drift in ${report.plan.cluster}`,
      body: `The cluster matches the manifest again (${report.plan.createdAt}).`,
    };
  }
  const fingerprint = createHash("sha256").update(changes.join("\n")).digest("hex").slice(0, 16);
  const nodes = new Set(report.plan.nodes.filter((n) => n.changes.length > 0).map((n) => n.node));
  return {
    drift: true,
    unknown,
    fingerprint,
    title: `Drift in ${report.plan.cluster}: ${changes.length} change(s) pending on ${[...nodes].join(", ")}`,
    body: `<!-- ${DRIFT_MARKER}:${fingerprint} -->\n${renderPlanMarkdown(report.plan, report.results)}`,
  };
}
