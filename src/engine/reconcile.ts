// One reconcile of the whole observed state, in two phases: planCluster (observe every node, plan,
// decide what may be applied) and applyPlan (ask, then apply node by node, the rolling ones one at
// a time behind the virtual-IP gate). dryRun only plans.
import { PicoError } from "../errors.js";
import type { Session } from "../transport/session.js";
import { mapLimit } from "../util/run.js";
import { diagnostic, errorsOf, type RunDiagnostic } from "./diagnostics.js";
import { isSuspended, toApply } from "./dispositions.js";
import { applyNode, recordOnNode } from "./node-apply.js";
import type { ReconcileOptions } from "./options.js";
import { orderReconcilers } from "./order.js";
import { controlPlaneSessions, decideAll, planAll, selectNodes, type Planned } from "./planner.js";
import { nodeOutcome, type NodeResult } from "./results.js";
import { findStaleness, type Staleness } from "./saved.js";
import { gateVirtualIp, needsRolling } from "./rolling.js";
import type { ClusterFacts, NodePlan, Plan, Reconciler } from "./types.js";

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
  /** The facts the plan was built on, by node: a node's verify plans against its peers' as seen then. */
  cluster: ClusterFacts;
  close(): Promise<void>;
}

/**
 * Phase 1: connects to every selected node, observes it, plans it and decides each change's
 * disposition. Returns the plan (plain data) and the sessions, left open for applyPlan(); the
 * caller closes them. Nothing is changed on any node.
 */
export async function planCluster(o: ReconcileOptions): Promise<{ plan: Plan; sessions: ClusterSessions }> {
  const ordered = orderReconcilers(o.reconcilers);
  const { planned: observed, cluster } = await planAll(o, ordered, selectNodes(o.manifest, o.only));
  const gate = new Map<string, Session>();
  const planned = await decideAll(o, observed, gate);
  const plan: Plan = {
    cluster: o.manifest.cluster.name,
    createdAt: new Date().toISOString(),
    ...(o.manifestDigest !== undefined ? { manifestDigest: o.manifestDigest } : {}),
    ...(o.commit !== undefined ? { manifestCommit: o.commit } : {}),
    nodes: planned.map((p) => p.nodePlan),
  };
  const sessions: ClusterSessions = {
    planned,
    gate,
    cluster,
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
    const diagnostics = [...n.diagnostics, ...refused(n)];
    return {
      node: n.node,
      outcome:
        n.status === "unreachable"
          ? "unreachable"
          : nodeOutcome({
              rolledBack: false,
              errors: errorsOf(diagnostics).length,
              unexpected: 0,
              remaining: n.changes.length,
            }),
      applied: 0,
      remaining: n.changes,
      diagnostics,
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
    const r = await runNode(o, ordered, p, sessions.cluster);
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
      result.diagnostics.push(diagnostic(p.node.name, "gate", gate));
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
async function runNode(
  o: ReconcileOptions,
  ordered: Reconciler[],
  p: Planned,
  cluster: ClusterFacts,
): Promise<NodeResult> {
  const stats = p.session?.stats ?? { connections: 0, execs: 0 };
  const result = {
    node: p.node.name,
    applied: 0,
    remaining: p.nodePlan.changes,
    diagnostics: [...p.nodePlan.diagnostics],
    stats,
  };
  if (!p.session) return { ...result, outcome: "unreachable" };
  const suspended = isSuspended(o.manifest, p.node);
  if (suspended) o.onProgress?.(p.node.name, "suspended: observed and reported, not applied");
  // A refused change is an error of the run, whatever else happens on the node.
  result.diagnostics.push(...refused(p.nodePlan));
  if (toApply(p.nodePlan.changes).length === 0) {
    // Nothing of this run is applied here: the same verdict as after an apply that left nothing.
    const outcome = nodeOutcome({
      rolledBack: false,
      errors: errorsOf(result.diagnostics).length,
      unexpected: 0,
      remaining: p.nodePlan.changes.length,
    });
    if (!suspended && outcome === "converged")
      await recordOnNode(o, p.session, p.nodePlan, { ...result, outcome });
    return { ...result, outcome, ...(suspended ? { suspended } : {}) };
  }
  const applied = await applyNode(o, ordered, cluster, p.session, p.node, p.nodePlan, result);
  p.session = applied.session;
  return applied.result;
}

/** The plan's refused changes as diagnostics of the run. Pure. */
function refused(n: NodePlan): RunDiagnostic[] {
  return n.changes.flatMap((c) =>
    c.disposition.kind === "refused"
      ? [diagnostic(n.node, "refused", `${n.node}: ${c.disposition.reason}`, { concern: c.concern })]
      : [],
  );
}

/** A rolling node left alone because an earlier one did not bring the virtual IP back. */
function notApplied(p: Planned, why: string): NodeResult {
  return {
    node: p.node.name,
    outcome: "failed",
    applied: 0,
    remaining: p.nodePlan.changes,
    diagnostics: [...p.nodePlan.diagnostics, diagnostic(p.node.name, "gate", `${p.node.name}: ${why}`)],
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
