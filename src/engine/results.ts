// What a run reports per node, and the exit code it makes of it: plain types and pure functions,
// read by the reports and the CLI without importing the orchestrator.
import type { SessionStats } from "../transport/session.js";
import type { RunDiagnostic } from "./diagnostics.js";
import type { Change } from "./types.js";

/** How one node ended. */
export type NodeOutcome =
  /** dry-run: facts gathered, nothing to do. apply: converged and verified. */
  | "converged"
  /** dry-run only: changes are pending. */
  | "pending"
  /** apply: changes were applied but the new plan is not empty. */
  | "not-converged"
  /** a step failed, or some facts are unknown. */
  | "failed"
  /** apply: the access changes could not be proven and were undone; the node is reachable as before. */
  | "rolled-back"
  | "unreachable";

/** How one node fared in a run: its outcome, what was applied, what is left, and why. */
export interface NodeResult {
  node: string;
  outcome: NodeOutcome;
  /** Changes applied completely (apply only). */
  applied: number;
  /** What is still pending after apply and verify (apply) or the plan's changes (dry-run). */
  remaining: Change[];
  /** What went wrong (or is worth a warning) on the node, as values. */
  diagnostics: RunDiagnostic[];
  stats: SessionStats;
  /** The manifest suspends this node (or the cluster): observed and reported, never applied. */
  suspended?: boolean;
}

/**
 * The exit code of a reconcile, as in `terraform plan -detailed-exitcode`: 1 when any node failed,
 * was unreachable or did not converge; 2 (only when `detailed`) when changes are pending; else 0.
 */
export function exitCodeFor(results: NodeResult[], detailed: boolean): number {
  if (results.some((r) => r.outcome !== "converged" && r.outcome !== "pending")) return 1;
  if (detailed && results.some((r) => r.outcome === "pending")) return 2;
  return 0;
}

/**
 * How an applied node ended, from what the apply saw: rolled back (the access proof failed and the
 * rollback worked), not converged (errors and changes the run should have made are left), failed
 * (errors, nothing of this run's left), pending (only changes this run does not apply are left), or
 * converged. Pure.
 */
export function nodeOutcome(v: {
  rolledBack: boolean;
  errors: number;
  /** Changes left that this run would apply. */
  unexpected: number;
  /** Changes left in all (withheld, suspended or refused ones included). */
  remaining: number;
}): NodeOutcome {
  if (v.rolledBack) return "rolled-back";
  if (v.errors > 0) return v.unexpected > 0 ? "not-converged" : "failed";
  return v.remaining > 0 ? "pending" : "converged";
}
