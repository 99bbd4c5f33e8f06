// One reconcile of the whole observed state: plan every node, decide what may be applied, ask, then
// apply node by node (the rolling ones one at a time behind the virtual-IP gate), verify and record.
import { hostname as localHostname } from "node:os";
import { PicoError } from "../errors.js";
import { buildDisarmCommand, buildRollbackCommand, buildTxnPrefix, DEADMAN_LOG } from "./guard.js";
import type { Session } from "../transport/session.js";
import { mapLimit } from "../util/run.js";
import { beginAccessTransaction, proveAccess } from "./access.js";
import { applyChanges, lockNode, unlockNode } from "./apply.js";
import { observeNode } from "./observe.js";
import type { ReconcileOptions } from "./options.js";
import { buildRecordStep, describeRestore, RECORD_PATH, type NodeRecord } from "./record.js";
import { nodeOutcome, type NodeResult } from "./results.js";
import { buildStepCommand } from "../transport/steps.js";
import { orderReconcilers } from "./order.js";
import { planNode } from "./plan.js";
import { controlPlaneSessions, decideAll, planAll, selectNodes, type Planned } from "./planner.js";
import { findStaleness, type Staleness } from "./saved.js";
import { rebootAndReconnect } from "./reboot.js";
import { gateVirtualIp, needsRolling } from "./rolling.js";
import { APPLY_ALL, decideDispositions, isSuspended, refusals, toApply } from "./dispositions.js";
import type { Change, NodePlan, NodeSpec, Plan, Reconciler } from "./types.js";

export type { ReconcileOptions } from "./options.js";
export { selectNodes } from "./planner.js";
export { exitCodeFor, type NodeOutcome, type NodeResult } from "./results.js";

/** A saved plan that no longer matches the nodes or the manifest: nothing was applied. */
export class StalePlanError extends PicoError {
  override name = "StalePlanError";
  constructor(readonly stale: Staleness[]) {
    super(
      `the saved plan is stale, nothing was applied:\n${stale.map((s) => `  ${s.message}`).join("\n")}\nmake a new plan (reconcile --dry-run --out) and review it`,
    );
  }
}

/** The sessions a plan was made over: the nodes' own, and control-plane nodes outside `--only`. */
export interface ClusterSessions {
  planned: Planned[];
  /** Sessions to control-plane nodes outside `--only`, opened when the plan or the roll asks them. */
  gate: Map<string, Session>;
  close(): Promise<void>;
}

/**
 * Phase 1: connects to every selected node, observes it, plans it and decides each change's
 * disposition. Returns the plan (plain data) and the sessions, left open for applyPlan(); the
 * caller closes them. Nothing is changed on any node.
 */
export async function planCluster(o: ReconcileOptions): Promise<{ plan: Plan; sessions: ClusterSessions }> {
  const ordered = orderReconcilers(o.reconcilers);
  const observed = await planAll(o, ordered, selectNodes(o.manifest, o.only));
  const gate = new Map<string, Session>();
  const planned = await decideAll(o, observed, gate);
  const plan: Plan = {
    cluster: o.manifest.cluster.name,
    createdAt: new Date().toISOString(),
    ...(o.manifestDigest !== undefined ? { manifestDigest: o.manifestDigest } : {}),
    nodes: planned.map((p) => p.nodePlan),
  };
  const sessions: ClusterSessions = {
    planned,
    gate,
    close: async () => {
      await Promise.all([
        ...planned.map((p) => p.session?.close()),
        ...[...gate.values()].map((x) => x.close()),
      ]);
    },
  };
  return { plan, sessions };
}

/** What a plan that is only shown reports per node: pending, converged, failed or unreachable. Pure. */
export function dryRunResults(plan: Plan, sessions?: ClusterSessions): NodeResult[] {
  return plan.nodes.map((n) => {
    const p = sessions?.planned.find((x) => x.node.name === n.node);
    const errors = [...n.errors, ...refusals(n.changes).map((r) => `${n.node}: ${r}`)];
    return {
      node: n.node,
      outcome:
        n.status === "unreachable"
          ? "unreachable"
          : errors.length > 0
            ? "failed"
            : n.changes.length > 0
              ? "pending"
              : "converged",
      applied: 0,
      remaining: n.changes,
      errors,
      stats: p?.session?.stats ?? { connections: 0, execs: 0 },
      ...(n.changes.some((c) => c.disposition.kind === "suspended") ? { suspended: true } : {}),
    };
  });
}

/** Plans and reports, changing nothing: `reconcile --dry-run`, `status`. The sessions are closed. */
export async function dryRun(o: ReconcileOptions): Promise<{ plan: Plan; results: NodeResult[] }> {
  const { plan, sessions } = await planCluster(o);
  try {
    o.onPlan?.(plan);
    return { plan, results: dryRunResults(plan, sessions) };
  } finally {
    await sessions.close();
  }
}

/**
 * Phase 2: applies a plan made by planCluster over its sessions, as its dispositions say: nodes in
 * parallel (bounded), then the rolling ones one at a time behind the virtual-IP gate; each node
 * verified (a new plan) and recorded. A saved plan (`o.saved`) must match `plan`, else StalePlanError
 * and nothing is applied. Asks `o.approve` (unless saved) and `o.confirm` (rebuilds) before any change.
 */
export async function applyPlan(
  plan: Plan,
  sessions: ClusterSessions,
  o: ReconcileOptions,
): Promise<NodeResult[]> {
  const ordered = orderReconcilers(o.reconcilers);
  // The plan is the value applied: each node's part of it, with the session it was made over.
  const planned: Planned[] = plan.nodes.map((nodePlan) => {
    const p = sessions.planned.find((x) => x.node.name === nodePlan.node);
    if (!p) throw new PicoError(`${nodePlan.node}: the plan names a node these sessions never observed`);
    return { ...p, nodePlan };
  });
  if (o.saved) {
    const stale = findStaleness(o.saved, plan);
    if (stale.length > 0) throw new StalePlanError(stale);
  }
  // Nothing changes on a node without a yes: what this run would apply is counted once, here.
  const changes = planned.flatMap((p) => (p.session === undefined ? [] : toApply(p.nodePlan.changes)));
  const nodes = new Set(changes.map((c) => c.node)).size;
  if (changes.length > 0 && !o.saved && o.approve && !(await o.approve({ changes: changes.length, nodes }))) {
    throw new PicoError(
      `${changes.length} change${changes.length === 1 ? "" : "s"} on ${nodes} node${nodes === 1 ? "" : "s"} not approved (answer y on a terminal, or pass --yes): nothing was applied`,
    );
  }
  const rebuilds = plan.nodes.filter((n) => toApply(n.changes).some((c) => c.risk === "destroy"));
  if (rebuilds.length > 0 && o.confirm && !(await o.confirm(rebuilds.map((n) => n.node)))) {
    throw new PicoError(
      `rebuild of ${rebuilds.map((n) => n.node).join(", ")} not confirmed (answer y on a terminal, or pass --yes): nothing was applied`,
    );
  }
  const runOne = async (p: Planned) => {
    const r = await runNode(o, ordered, p);
    // After a reboot the node answers on a new connection: the run keeps that one (and closes it).
    const own = sessions.planned.find((x) => x.node.name === p.node.name);
    if (own) own.session = p.session;
    return r;
  };
  // Nodes whose changes may move the virtual IP (or reboot) go one at a time, after the others.
  const rolling = (p: Planned) => p.session !== undefined && needsRolling(p.nodePlan, ordered);
  const byNode = new Map<string, NodeResult>();
  for (const r of await mapLimit(
    planned.filter((p) => !rolling(p)),
    o.concurrency,
    runOne,
  ))
    byNode.set(r.node, r);
  let stopped: string | undefined;
  for (const p of planned.filter(rolling)) {
    if (stopped !== undefined) {
      byNode.set(p.node.name, notApplied(p, stopped));
      continue;
    }
    const result = await runOne(p);
    byNode.set(p.node.name, result);
    const gate = await waitForVirtualIp(o, sessions.planned, sessions.gate, p.node.name);
    if (gate !== undefined) {
      result.errors.push(gate);
      if (result.outcome === "converged" || result.outcome === "pending") result.outcome = "failed";
      stopped = `not applied: the rolling apply stopped after ${p.node.name}: ${gate}`;
    }
  }
  return planned.map((p) => byNode.get(p.node.name) as NodeResult);
}

/**
 * One reconcile of the whole observed state, both phases: plan (shown through `o.onPlan`), then
 * apply what the dispositions allow once approved, verify and record. A node that fails never stops
 * the others. Returns the plan that was shown and per-node results. Watch mode and tests use it; the
 * CLI calls the phases itself.
 */
export async function reconcile(o: ReconcileOptions): Promise<{ plan: Plan; results: NodeResult[] }> {
  const { plan, sessions } = await planCluster(o);
  try {
    o.onPlan?.(plan);
    return { plan, results: await applyPlan(plan, sessions, o) };
  } finally {
    await sessions.close();
  }
}

/** Runs one node's part of the plan: what its dispositions allow, or only its report. */
async function runNode(o: ReconcileOptions, ordered: Reconciler[], p: Planned): Promise<NodeResult> {
  const stats = p.session?.stats ?? { connections: 0, execs: 0 };
  const result = {
    node: p.node.name,
    applied: 0,
    remaining: p.nodePlan.changes,
    errors: [...p.nodePlan.errors],
    stats,
  };
  if (!p.session) return { ...result, outcome: "unreachable" };
  const suspended = isSuspended(o.manifest, p.node);
  if (suspended) o.onProgress?.(p.node.name, "suspended: observed and reported, not applied");
  // A refused change is an error of the run, whatever else happens on the node.
  result.errors.push(...refusals(p.nodePlan.changes).map((r) => `${p.node.name}: ${r}`));
  if (toApply(p.nodePlan.changes).length === 0) {
    const outcome =
      result.errors.length > 0 ? "failed" : p.nodePlan.changes.length > 0 ? "pending" : "converged";
    if (!suspended && outcome === "converged")
      await recordOnNode(o, p.session, p.nodePlan, { ...result, outcome });
    return { ...result, outcome, ...(suspended ? { suspended } : {}) };
  }
  const applied = await applyNode(o, ordered, p.session, p.node, p.nodePlan, result);
  p.session = applied.session;
  return applied.result;
}

/** A rolling node left alone because an earlier one did not bring the virtual IP back. */
function notApplied(p: Planned, why: string): NodeResult {
  return {
    node: p.node.name,
    outcome: "failed",
    applied: 0,
    remaining: p.nodePlan.changes,
    errors: [...p.nodePlan.errors, `${p.node.name}: ${why}`],
    stats: p.session?.stats ?? { connections: 0, execs: 0 },
  };
}

/**
 * After a rolling node: waits until exactly one control-plane node holds the virtual IP, asking
 * each of them (over the run's sessions, or new ones for nodes outside `--only`). Returns why
 * not, or undefined (also when the manifest has no virtual IP to keep).
 */
async function waitForVirtualIp(
  o: ReconcileOptions,
  planned: Planned[],
  extra: Map<string, Session>,
  after: string,
): Promise<string | undefined> {
  if (o.manifest.cluster.virtualIp === undefined || o.manifest.keepalived === undefined) return undefined;
  const { sessions } = await controlPlaneSessions(o, planned, extra);
  return gateVirtualIp(o.manifest, sessions, after, o.vipTimeoutMs, o.onProgress);
}

async function applyNode(
  o: ReconcileOptions,
  ordered: Reconciler[],
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
      result: { ...result, outcome: "failed", errors: [...result.errors, (err as Error).message] },
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
    done = await applyAndVerify(o, ordered, session, node, nodePlan, result, reboot);
    await recordOnNode(o, current, nodePlan, done);
    return { result: done, session: current };
  } catch (err) {
    // The connection broke mid-apply; a dead-man timer, if armed, restores access on its own.
    const failed: NodeResult = {
      ...result,
      ...done,
      outcome: "failed",
      errors: [
        ...(done?.errors ?? result.errors),
        `${node.name}: apply interrupted: ${(err as Error).message}`,
      ],
    };
    return { result: failed, session: current };
  } finally {
    const unlocked = await unlockNode(current).then(
      () => true,
      () => false,
    );
    if (!unlocked)
      (done?.errors ?? result.errors).push(`${node.name}: could not release /run/picotrader/lock`);
  }
}

/**
 * Runs the node's plan, then observes and verifies. Access changes are one guarded transaction,
 * proven before any change that reboots the node (a reboot would drop the dead-man timer).
 */
async function applyAndVerify(
  o: ReconcileOptions,
  ordered: Reconciler[],
  session: Session,
  node: NodeSpec,
  nodePlan: NodePlan,
  result: Omit<NodeResult, "outcome">,
  reboot: (s: Session, change: Change) => Promise<Session>,
): Promise<NodeResult> {
  const errors = [...result.errors];
  const progress = (c: Change) => o.onProgress?.(node.name, `${c.concern}: ${c.summary}`);
  const destroy = toApply(nodePlan.changes).filter((c) => c.risk === "destroy");
  let rebuiltApplied = 0;
  if (destroy.length > 0) {
    // A rebuild wipes the node: nothing else of this plan fits what comes back. The fresh node is
    // observed and planned again, and that plan is applied in the same run.
    const rebuilt = await applyChanges(session, destroy, progress, reboot);
    session = rebuilt.session;
    if (rebuilt.error) {
      errors.push(rebuilt.error.message);
      return { ...result, applied: rebuilt.applied, remaining: nodePlan.changes, errors, outcome: "failed" };
    }
    rebuiltApplied = rebuilt.applied;
    o.onProgress?.(node.name, `rebuilt; observing the fresh node as ${session.identity}`);
    const { facts } = await observeNode(session, node, o.manifest, ordered, o.inputs);
    const fresh = planNode(node, o.manifest, ordered, facts, o.inputs);
    nodePlan = decideDispositions(
      { ...nodePlan, changes: fresh.changes, errors: fresh.errors },
      node,
      o.manifest,
      o.policy ?? APPLY_ALL,
    );
    errors.push(...fresh.errors);
  }
  const allowed = toApply(nodePlan.changes);
  const rebooting = (c: Change) => c.steps.some((s) => s.kind === "reboot");
  // The access changes go first, alone, as one guarded transaction: proven by a new login and the
  // dead-man timer disarmed before anything else runs, so no slow step can outlast the timer.
  const access = allowed.filter((c) => c.risk === "access");
  let applied = rebuiltApplied;
  let rolledBack = false;
  let txn: string | undefined;
  let accessFailed = false;
  if (access.length > 0) {
    txn = await beginAccessTransaction(o, session, access);
    const outcome = await applyChanges(session, access, progress, undefined, buildTxnPrefix(txn));
    applied += outcome.applied;
    if (outcome.error) errors.push(outcome.error.message);
    const refusal = outcome.error ? "a step failed" : await proveAccess(o, node);
    if (refusal === undefined) {
      const r = await session.exec(buildDisarmCommand(txn, true));
      if (r.exitCode !== 0) {
        // Too late: the timer restored the node while the proof ran; what was proven is gone.
        accessFailed = true;
        errors.push(
          `${node.name}: the dead-man timer restored the access changes before they were proven (${r.stderr.trim() || `exit ${r.exitCode}`})`,
        );
      }
    } else {
      accessFailed = true;
      o.onProgress?.(node.name, `rolling back the access changes: ${refusal}`);
      const r = await session.exec(buildRollbackCommand(txn));
      rolledBack = r.exitCode === 0;
      errors.push(
        rolledBack
          ? `${node.name}: access changes rolled back: ${refusal}`
          : `${node.name}: ROLLBACK FAILED (exit ${r.exitCode}): ${r.stderr.trim()}; the dead-man timer will try again`,
      );
    }
  }
  let current = session;
  if (!accessFailed) {
    const rest = await applyChanges(
      session,
      allowed.filter((c) => c.risk !== "access" && !rebooting(c)),
      progress,
    );
    if (rest.error) errors.push(rest.error.message);
    applied += rest.applied;
    if (!rest.error) {
      const mayReboot = o.policy?.withhold.reboot === undefined;
      const rebooted = await applyChanges(
        session,
        allowed.filter(rebooting),
        progress,
        mayReboot ? reboot : undefined,
      );
      if (rebooted.error) errors.push(rebooted.error.message);
      applied += rebooted.applied;
      current = rebooted.session;
    }
  }
  o.onProgress?.(node.name, "verifying");
  const { facts, restored } = await observeNode(current, node, o.manifest, ordered, o.inputs);
  const replanned = planNode(node, o.manifest, ordered, facts, o.inputs);
  const after = decideDispositions(
    { ...nodePlan, changes: replanned.changes, errors: replanned.errors },
    node,
    o.manifest,
    o.policy ?? APPLY_ALL,
  );
  errors.push(...after.errors);
  // A restore of this run's own transaction means the node is back in its old state, not a mix.
  const ours = restored.filter((r) => r.transaction === txn);
  errors.push(...ours.map((r) => `${node.name}: access changes ${describeRestore(r)}`));
  const unexpected = toApply(after.changes);
  if (unexpected.length > 0 && !rolledBack) {
    errors.push(
      `not converged after apply: ${unexpected.map((c) => `${c.concern}: ${c.summary}`).join("; ")}`,
    );
  }
  const verdict = nodeOutcome({
    rolledBack,
    errors: errors.length,
    unexpected: unexpected.length,
    remaining: after.changes.length,
  });
  return { ...result, applied, remaining: after.changes, errors, outcome: verdict };
}

/**
 * Writes what this run did on the node (commit, generation, time, result), unless the node's record
 * already says the same and nothing was applied. A failure to record is reported, not fatal.
 */
async function recordOnNode(
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
    errors: result.errors,
  };
  const { command, stdin } = buildStepCommand(buildRecordStep(record));
  try {
    const r = await session.exec(
      seenRestores ? `${command}\nrm -f ${DEADMAN_LOG}` : command,
      stdin === undefined ? {} : { stdin },
    );
    if (r.exitCode !== 0)
      result.errors.push(
        `${node.name}: could not write ${RECORD_PATH} (exit ${r.exitCode}): ${r.stderr.trim()}`,
      );
  } catch (err) {
    result.errors.push(`${node.name}: could not write ${RECORD_PATH}: ${(err as Error).message}`);
  }
}
