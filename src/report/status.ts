import { describeDiagnostic } from "../engine/diagnostics.js";
import type { NodeResult } from "../engine/results.js";
import type { NodeRecord } from "../engine/record.js";
import type { Plan } from "../engine/types.js";

/** A condition in the controller-runtime style: a type, a status, a machine reason, a human message. */
export interface Condition {
  type: "Reachable" | "Converged" | "Applied";
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

export interface NodeStatus {
  node: string;
  reachable: boolean;
  commit?: string;
  generation?: number;
  appliedAt?: string;
  pending: number;
  lastError?: string;
  conditions: Condition[];
}

function describeRecord(r: NodeRecord): string {
  return `${r.result} at ${r.appliedAt}, commit ${r.commit ?? "(not in Git)"}, generation ${r.generation}`;
}

/** Per-node status from a dry-run's plan and results. Pure. */
export function buildStatus(plan: Plan, results: NodeResult[]): NodeStatus[] {
  return plan.nodes.map((n) => {
    const result = results.find((r) => r.node === n.node);
    const reachable = n.status === "planned";
    const conditions: Condition[] = [
      reachable
        ? { type: "Reachable", status: "True", reason: "Connected", message: `as ${n.identity ?? "?"}` }
        : {
            type: "Reachable",
            status: "False",
            reason: "ConnectFailed",
            message: n.diagnostics.map(describeDiagnostic).join("; "),
          },
    ];
    if (reachable) {
      conditions.push(
        n.diagnostics.length > 0
          ? {
              type: "Converged",
              status: "Unknown",
              reason: "FactsUnknown",
              message: n.diagnostics.map(describeDiagnostic).join("; "),
            }
          : n.changes.length > 0
            ? {
                type: "Converged",
                status: "False",
                reason: "ChangesPending",
                message: n.changes.map((c) => `${c.concern}: ${c.summary}`).join("; "),
              }
            : {
                type: "Converged",
                status: "True",
                reason: "NoChanges",
                message: "observed state matches the manifest",
              },
      );
      conditions.push(
        n.recorded
          ? {
              type: "Applied",
              status: n.recorded.result === "converged" ? "True" : "False",
              reason: n.recorded.result === "converged" ? "Recorded" : "LastApplyFailed",
              message: describeRecord(n.recorded),
            }
          : {
              type: "Applied",
              status: "Unknown",
              reason: n.recordError ? "RecordUnreadable" : "NeverApplied",
              message: n.recordError ?? "no record on the node",
            },
      );
    }
    const lastError =
      n.recorded?.errors[0] ??
      (result?.diagnostics[0] ? describeDiagnostic(result.diagnostics[0]) : undefined);
    return {
      node: n.node,
      reachable,
      ...(n.recorded?.commit !== undefined ? { commit: n.recorded.commit } : {}),
      ...(n.recorded ? { generation: n.recorded.generation, appliedAt: n.recorded.appliedAt } : {}),
      pending: n.changes.length,
      ...(lastError !== undefined ? { lastError } : {}),
      conditions,
    };
  });
}

/** Status as a table for people. Pure. */
export function renderStatusText(status: NodeStatus[]): string {
  const rows = status.map((s) => [
    s.node,
    s.reachable ? "yes" : "no",
    s.commit?.slice(0, 12) ?? "-",
    s.generation === undefined ? "-" : String(s.generation),
    String(s.pending),
    s.conditions.map((c) => `${c.type}=${c.status}(${c.reason})`).join(" "),
  ]);
  const head = ["NODE", "REACHABLE", "COMMIT", "GEN", "PENDING", "CONDITIONS"];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  const errors = status.filter((s) => s.lastError).map((s) => `${s.node}: ${s.lastError}`);
  return [line(head), ...rows.map(line), ...(errors.length > 0 ? ["", ...errors] : [])].join("\n") + "\n";
}
