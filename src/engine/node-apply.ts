// One node's part of a run: take the node's lock, apply what the plan's dispositions allow in
// phases (a rebuild alone and re-planned; the access transaction; the rest; reboots), observe again
// and verify, record what was done on the node, release the lock.
import { hostname as localHostname } from "node:os";
import type { Session } from "../transport/session.js";
import { buildStepCommand } from "../transport/steps.js";
import { applyAccessTransaction } from "./access.js";
import {
  describeDiagnostic,
  diagnostic,
  diagnosticFrom,
  errorsOf,
  type RunDiagnostic,
} from "./diagnostics.js";
import { applyChanges, lockNode, unlockNode } from "./apply.js";
import { APPLY_ALL, decideDispositions, toApply } from "./dispositions.js";
import { DEADMAN_LOG } from "./guard.js";
import { observeNode } from "./observe.js";
import type { ReconcileOptions } from "./options.js";
import { planNode } from "./plan.js";
import { rebootAndReconnect } from "./reboot.js";
import {
  buildRecordStep,
  describeRestore,
  RECORD_PATH,
  type DeadmanRestore,
  type NodeRecord,
} from "./record.js";
import { nodeOutcome, type NodeResult } from "./results.js";
import type { Change, ClusterFacts, NodePlan, NodeSpec, Reconciler } from "./types.js";

/**
 * Applies one node's part of the plan under the node's lock (taken again after each reboot), then
 * records what was done on the node and releases the lock. Returns the node's result and the
 * session in use at the end (a reboot replaces it); a lost connection is a failed result, not a throw.
 */
export async function applyNode(
  o: ReconcileOptions,
  ordered: Reconciler[],
  cluster: ClusterFacts,
  session: Session,
  node: NodeSpec,
  nodePlan: NodePlan,
  result: Omit<NodeResult, "outcome">,
): Promise<{ result: NodeResult; session: Session }> {
  const holder = `picotrader on ${localHostname()} pid ${process.pid} since ${new Date().toISOString()}`;
  try {
    await lockNode(session, holder);
  } catch (err) {
    return {
      result: {
        ...result,
        outcome: "failed",
        diagnostics: [...result.diagnostics, diagnosticFrom(node.name, err, "node")],
      },
      session,
    };
  }
  // A reboot clears /run, and the lock with it: the new boot is locked again before going on.
  const reboot = async (s: Session, change: Change) => {
    // A rebuild comes back with a new host key: the old one is dropped and the new one pinned.
    const reimaged = change.risk === "destroy";
    o.onProgress?.(node.name, reimaged ? "rebooting to re-image" : "rebooting");
    const next = await rebootAndReconnect(s, o.transport, node, o.rebootTimeoutMs ?? 300_000, reimaged);
    current = next;
    o.onProgress?.(node.name, "back on a new boot");
    await lockNode(next, holder);
    return next;
  };
  let current = session;
  let done: NodeResult | undefined;
  try {
    done = await applyAndVerify(o, ordered, cluster, session, node, nodePlan, result, reboot);
    await recordOnNode(o, current, nodePlan, done);
    return { result: done, session: current };
  } catch (err) {
    // The connection broke mid-apply; a dead-man timer, if armed, restores access on its own.
    const failed: NodeResult = {
      ...result,
      ...done,
      outcome: "failed",
      diagnostics: [
        ...(done?.diagnostics ?? result.diagnostics),
        diagnostic(node.name, "node", `${node.name}: apply interrupted: ${(err as Error).message}`),
      ],
    };
    return { result: failed, session: current };
  } finally {
    const unlocked = await unlockNode(current).then(
      () => true,
      () => false,
    );
    if (!unlocked)
      (done?.diagnostics ?? result.diagnostics).push(
        diagnostic(node.name, "node", `${node.name}: could not release /run/picotrader/lock`),
      );
  }
}

/** What one phase of a node's apply did: changes applied, the session it ends on, diagnostics. */
interface PhaseOutcome {
  applied: number;
  session: Session;
  diagnostics: RunDiagnostic[];
  /** A step failed: later phases do not run. */
  failed: boolean;
}

/** Observes the node again and plans it with the run's policy (after a rebuild, and to verify). */
async function replanNode(
  o: ReconcileOptions,
  ordered: Reconciler[],
  cluster: ClusterFacts,
  session: Session,
  node: NodeSpec,
  nodePlan: NodePlan,
): Promise<{ nodePlan: NodePlan; restored: DeadmanRestore[] }> {
  const { facts, restored } = await observeNode(session, node, o.manifest, ordered, o.inputs);
  const fresh = planNode(node, o.manifest, ordered, facts, o.inputs, cluster);
  return {
    nodePlan: decideDispositions(
      { ...nodePlan, changes: fresh.changes, diagnostics: fresh.diagnostics },
      node,
      o.manifest,
      o.policy ?? APPLY_ALL,
    ),
    restored,
  };
}

/**
 * Phase 1, a rebuild: it wipes the node, so nothing else of this plan fits what comes back. The fresh
 * node is observed and planned again; that plan is what the next phases apply.
 */
async function applyRebuild(
  o: ReconcileOptions,
  ordered: Reconciler[],
  cluster: ClusterFacts,
  session: Session,
  node: NodeSpec,
  nodePlan: NodePlan,
  destroy: Change[],
  reboot: (s: Session, change: Change) => Promise<Session>,
): Promise<PhaseOutcome & { nodePlan: NodePlan }> {
  const rebuilt = await applyChanges(session, destroy, progressOf(o, node), reboot);
  if (rebuilt.error)
    return {
      applied: rebuilt.applied,
      session: rebuilt.session,
      diagnostics: [diagnosticFrom(node.name, rebuilt.error, "step-failed")],
      failed: true,
      nodePlan,
    };
  o.onProgress?.(node.name, `rebuilt; observing the fresh node as ${rebuilt.session.identity}`);
  const fresh = await replanNode(o, ordered, cluster, rebuilt.session, node, nodePlan);
  return {
    applied: rebuilt.applied,
    session: rebuilt.session,
    diagnostics: fresh.nodePlan.diagnostics,
    failed: false,
    nodePlan: fresh.nodePlan,
  };
}

/** Phase 3, after proven access: every other change, then those that reboot the node (if allowed). */
async function applyRest(
  o: ReconcileOptions,
  session: Session,
  node: NodeSpec,
  allowed: Change[],
  reboot: (s: Session, change: Change) => Promise<Session>,
): Promise<PhaseOutcome> {
  const rebooting = (c: Change) => c.steps.some((s) => s.kind === "reboot");
  const rest = await applyChanges(
    session,
    allowed.filter((c) => c.risk !== "access" && !rebooting(c)),
    progressOf(o, node),
  );
  if (rest.error)
    return {
      applied: rest.applied,
      session: rest.session,
      diagnostics: [diagnosticFrom(node.name, rest.error, "step-failed")],
      failed: true,
    };
  const mayReboot = o.policy?.withhold.reboot === undefined;
  const rebooted = await applyChanges(
    rest.session,
    allowed.filter(rebooting),
    progressOf(o, node),
    mayReboot ? reboot : undefined,
  );
  return {
    applied: rest.applied + rebooted.applied,
    session: rebooted.session,
    diagnostics: rebooted.error ? [diagnosticFrom(node.name, rebooted.error, "step-failed")] : [],
    failed: rebooted.error !== undefined,
  };
}

function progressOf(o: ReconcileOptions, node: NodeSpec): (c: Change) => void {
  return (c) => o.onProgress?.(node.name, `${c.concern}: ${c.summary}`);
}

/**
 * Runs the node's plan in phases (a rebuild alone; the access transaction, proven before anything
 * else; the rest, reboots last), then observes again and verifies: the node's outcome.
 */
async function applyAndVerify(
  o: ReconcileOptions,
  ordered: Reconciler[],
  cluster: ClusterFacts,
  session: Session,
  node: NodeSpec,
  nodePlan: NodePlan,
  result: Omit<NodeResult, "outcome">,
  reboot: (s: Session, change: Change) => Promise<Session>,
): Promise<NodeResult> {
  const diagnostics = [...result.diagnostics];
  let applied = 0;
  const destroy = toApply(nodePlan.changes).filter((c) => c.risk === "destroy");
  if (destroy.length > 0) {
    const rebuild = await applyRebuild(o, ordered, cluster, session, node, nodePlan, destroy, reboot);
    session = rebuild.session;
    applied += rebuild.applied;
    diagnostics.push(...rebuild.diagnostics);
    if (rebuild.failed)
      return { ...result, applied, remaining: nodePlan.changes, diagnostics, outcome: "failed" };
    nodePlan = rebuild.nodePlan;
  }
  const allowed = toApply(nodePlan.changes);
  // The access changes go first, alone, as one guarded transaction: proven by a new login and the
  // dead-man timer disarmed before anything else runs, so no slow step can outlast the timer.
  const access = allowed.filter((c) => c.risk === "access");
  const txn =
    access.length > 0
      ? await applyAccessTransaction(o, session, node, access, progressOf(o, node))
      : undefined;
  applied += txn?.applied ?? 0;
  diagnostics.push(...(txn?.diagnostics ?? []));
  const rolledBack = txn?.rolledBack ?? false;
  if (txn === undefined || txn.proven) {
    const rest = await applyRest(o, session, node, allowed, reboot);
    session = rest.session;
    applied += rest.applied;
    diagnostics.push(...rest.diagnostics);
  }
  o.onProgress?.(node.name, "verifying");
  const verify = await replanNode(o, ordered, cluster, session, node, nodePlan);
  const after = verify.nodePlan;
  diagnostics.push(...after.diagnostics);
  // A restore of this run's own transaction means the node is back in its old state, not a mix.
  diagnostics.push(
    ...verify.restored
      .filter((r) => r.transaction === txn?.id)
      .map((r) => diagnostic(node.name, "restored", `${node.name}: access changes ${describeRestore(r)}`)),
  );
  const unexpected = toApply(after.changes);
  if (unexpected.length > 0 && !rolledBack) {
    diagnostics.push(
      diagnostic(
        node.name,
        "not-converged",
        `not converged after apply: ${unexpected.map((c) => `${c.concern}: ${c.summary}`).join("; ")}`,
      ),
    );
  }
  const verdict = nodeOutcome({
    rolledBack,
    errors: errorsOf(diagnostics).length,
    unexpected: unexpected.length,
    remaining: after.changes.length,
  });
  return { ...result, applied, remaining: after.changes, diagnostics, outcome: verdict };
}

/**
 * Writes what this run did on the node (commit, generation, time, result), unless the node's record
 * already says the same and nothing was applied. A failure to record is reported, not fatal.
 */
export async function recordOnNode(
  o: ReconcileOptions,
  session: Session,
  nodePlan: NodePlan,
  result: NodeResult,
): Promise<void> {
  const node = o.manifest.nodes.find((n) => n.name === nodePlan.node) as NodeSpec;
  const previous = nodePlan.recorded;
  // The dead-man's restores stay reported until a run converges the node after them.
  const seenRestores = nodePlan.restored !== undefined && result.outcome === "converged";
  // A rebuild left pending (withheld, or failed) means the node is still at its old generation.
  const rebuildPending = result.remaining.some((c) => c.risk === "destroy");
  const generation = rebuildPending && previous ? previous.generation : (node.generation ?? 1);
  const unchanged =
    previous?.commit === o.commit &&
    previous?.generation === generation &&
    previous?.result === result.outcome;
  if (unchanged && result.applied === 0 && !seenRestores) return;
  const record: NodeRecord = {
    ...(o.commit !== undefined ? { commit: o.commit } : {}),
    generation,
    appliedAt: new Date().toISOString(),
    result: result.outcome,
    applied: result.applied,
    errors: result.diagnostics.map(describeDiagnostic),
  };
  const { command, stdin } = buildStepCommand(buildRecordStep(record));
  try {
    const r = await session.exec(
      seenRestores ? `${command}\nrm -f ${DEADMAN_LOG}` : command,
      stdin === undefined ? {} : { stdin },
    );
    if (r.exitCode !== 0)
      result.diagnostics.push(
        diagnostic(node.name, "node", `${node.name}: could not write ${RECORD_PATH} (exit ${r.exitCode})`, {
          detail: r.stderr.trim(),
        }),
      );
  } catch (err) {
    result.diagnostics.push(
      diagnostic(
        node.name,
        "node",
        `${node.name}: could not write ${RECORD_PATH}: ${(err as Error).message}`,
      ),
    );
  }
}
