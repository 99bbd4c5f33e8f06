// What one reconcile is given: the transport, the manifest and its inputs, the policy and the hooks
// the CLI and watch mode plug in.
import type { ApplyPolicy } from "./dispositions.js";
import type { Transport } from "../transport/session.js";
import type { Inputs, Manifest, Plan, Reconciler } from "./types.js";

/** Everything one run is given; both phases (planCluster, applyPlan) read the same options. */
export interface ReconcileOptions {
  transport: Transport;
  manifest: Manifest;
  /** The run's secrets and files (readInputs()); default none. */
  inputs?: Inputs;
  reconcilers: Reconciler[];
  /** Node names to work on; undefined: all. */
  only?: string[];
  concurrency: number;
  /** Print the plan before applying (called once, with the whole plan). */
  onPlan?: (plan: Plan) => void;
  onProgress?: (node: string, message: string) => void;
  /** Seconds before the dead-man timer restores access if the proof never comes. Default 120. */
  deadmanSeconds?: number;
  /** How long the proof login may take. Default 20 s. */
  proofTimeoutMs?: number;
  /** The manifest's Git commit, recorded on each node after apply; undefined outside Git. */
  commit?: string;
  /** What this run may apply (decided once, on the plan); default: everything. */
  policy?: ApplyPolicy;
  /** sha256 of the manifest file, recorded on the plan. */
  manifestDigest?: string;
  /**
   * A saved plan to apply: the plan made now must match it (manifest, facts, changes), else the run
   * stops before any change with StalePlanError. Its approval is the yes: `approve` is not asked.
   */
  saved?: Plan;
  /**
   * Asked once, after the plan is shown, when it has changes this run would apply; false stops the
   * run before any change. Absent: approved (watch mode's own policy).
   */
  approve?: (pending: { changes: number; nodes: number }) => Promise<boolean>;
  /** Asked once, after the approval, when the plan rebuilds nodes; false stops the run before any change. */
  confirm?: (rebuilds: string[]) => Promise<boolean>;
  /** How long a node may take to come back from a reboot step. Default 300 s. */
  rebootTimeoutMs?: number;
  /** How long the rolling apply waits for one holder of the virtual IP after a node. Default 30 s. */
  vipTimeoutMs?: number;
}
