import type { NodeResult } from "../engine/reconcile.js";
import type { Plan } from "../engine/types.js";

/** The machine interface of a reconcile: the plan, per-node results and counters. CI reads this. */
export interface ReconcileReport {
  version: 1;
  mode: "dry-run" | "apply";
  exitCode: number;
  plan: Plan;
  results: NodeResult[];
}

export function renderJson(report: ReconcileReport): string {
  return JSON.stringify(report, null, 2) + "\n";
}
