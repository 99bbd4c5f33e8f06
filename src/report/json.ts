import type { NodeResult } from "../engine/results.js";
import type { Plan } from "../engine/types.js";

/** The machine interface of a reconcile: the plan, per-node results and counters. CI reads this. */
export interface ReconcileReport {
  version: 1;
  mode: "dry-run" | "apply";
  exitCode: number;
  plan: Plan;
  results: NodeResult[];
  /** Present in a saved plan (reconcile --dry-run --out): what `picotrader apply` needs to run it again. */
  saved?: {
    /** The manifest's absolute path. */
    manifest: string;
    allowRebuild: boolean;
    only?: string[];
  };
}

/** The report as JSON; a sensitive write step shows the length of its content, never the content. */
export function renderJson(report: ReconcileReport): string {
  return JSON.stringify(report, redactSensitive, 2) + "\n";
}

function redactSensitive(this: unknown, key: string, value: unknown): unknown {
  const step = this as { kind?: unknown; sensitive?: unknown };
  return key === "content" && step.kind === "write" && step.sensitive === true && typeof value === "string"
    ? `(sensitive: ${value.length} bytes)`
    : value;
}
