import { hostname as localHostname } from "node:os";
import { randomBytes } from "node:crypto";
import { PicoError, StepError, UnreachableError } from "../errors.js";
import {
  buildArmCommand,
  buildDisarmCommand,
  buildRollbackCommand,
  buildSnapshotCommand,
  buildTxnPrefix,
  DEADMAN_LOG,
} from "./guard.js";
import type { Session, SessionStats, Transport } from "../transport/session.js";
import { mapLimit } from "../util/run.js";
import { applyChanges, lockNode, unlockNode } from "./apply.js";
import { observeNode } from "./observe.js";
import { buildRecordStep, describeRestore, RECORD_PATH, type NodeRecord } from "./record.js";
import { buildStepCommand } from "../transport/steps.js";
import { orderReconcilers } from "./order.js";
import { nodeState, planNode } from "./plan.js";
import { factsDigests, findStaleness, type Staleness } from "./saved.js";
import { rebootAndReconnect } from "./reboot.js";
import { needsRolling, waitForOneVipHolder } from "./rolling.js";
import {
  APPLY_ALL,
  decideDispositions,
  isSuspended,
  refusals,
  toApply,
  type ApplyPolicy,
} from "./dispositions.js";
import type { Change, Guard, Manifest, NodePlan, NodeSpec, Plan, Reconciler, Inputs } from "./types.js";

/** A saved plan that no longer matches the nodes or the manifest: nothing was applied. */
export class StalePlanError extends PicoError {
  override name = "StalePlanError";
  constructor(readonly stale: Staleness[]) {
    super(
      `the saved plan is stale, nothing was applied:\n${stale.map((s) => `  ${s.message}`).join("\n")}\nmake a new plan (reconcile --dry-run --out) and review it`,
    );
  }
}

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

export interface NodeResult {
  node: string;
  outcome: NodeOutcome;
  /** Changes applied completely (apply only). */
  applied: number;
  /** What is still pending after apply and verify (apply) or the plan's changes (dry-run). */
  remaining: Change[];
  errors: string[];
  stats: SessionStats;
  /** The manifest suspends this node (or the cluster): observed and reported, never applied. */
  suspended?: boolean;
}

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

/** Picks the nodes to work on; an unknown name in `only` is an error naming it. Pure. */
export function selectNodes(m: Manifest, only?: string[]): NodeSpec[] {
  if (!only) return m.nodes;
  const unknown = only.filter((n) => !m.nodes.some((node) => node.name === n));
  if (unknown.length > 0)
    throw new PicoError(
      `--only: no node named ${unknown.join(", ")} in the manifest (nodes: ${m.nodes.map((n) => n.name).join(", ")})`,
    );
  return m.nodes.filter((n) => only.includes(n.name));
}

interface Planned {
  node: NodeSpec;
  session?: Session;
  nodePlan: NodePlan;
}

/** Connects and observes every node (bounded parallelism) and returns the plan, sessions kept open. */
async function planAll(o: ReconcileOptions, ordered: Reconciler[], nodes: NodeSpec[]): Promise<Planned[]> {
  return mapLimit(nodes, o.concurrency, async (node): Promise<Planned> => {
    const base = { node: node.name, address: node.address, errors: [] as string[], changes: [] as Change[] };
    let session: Session | undefined;
    try {
      o.onProgress?.(node.name, "connecting");
      session = await o.transport.connect(node);
      o.onProgress?.(node.name, `observing as ${session.identity}`);
      const { facts, record, recordError, restored } = await observeNode(
        session,
        node,
        o.manifest,
        ordered,
        o.inputs,
      );
      const { changes, errors, unknown } = planNode(node, o.manifest, ordered, facts, o.inputs);
      return {
        node,
        session,
        nodePlan: {
          ...base,
          status: "planned",
          state: nodeState("planned", changes, unknown),
          ...(unknown.length > 0 ? { unknown } : {}),
          identity: session.identity,
          errors,
          changes,
          facts: factsDigests(facts, ordered),
          ...(record ? { recorded: record } : {}),
          ...(recordError ? { recordError } : {}),
          ...(restored.length > 0 ? { restored } : {}),
        },
      };
    } catch (err) {
      await session?.close();
      return {
        node,
        nodePlan: { ...base, status: "unreachable", state: "unknown", errors: [(err as Error).message] },
      };
    }
  });
}

/**
 * Stamps every change's disposition with the run's policy. Only a control-plane rebuild asks which
 * other control-plane nodes are down (the run's own view, or a connection for nodes outside `--only`).
 */
async function decideAll(
  o: ReconcileOptions,
  planned: Planned[],
  extra: Map<string, Session>,
): Promise<Planned[]> {
  const policy = o.policy ?? APPLY_ALL;
  const rebuildsControlPlane = planned.some(
    (p) =>
      p.node.roles.includes("control-plane") &&
      p.nodePlan.changes.some((c) => c.risk === "destroy" && policy.withhold.destroy === undefined),
  );
  const down = rebuildsControlPlane ? (await controlPlaneSessions(o, planned, extra)).down : [];
  return planned.map((p) => ({
    ...p,
    nodePlan: decideDispositions(p.nodePlan, p.node, o.manifest, policy, down),
  }));
}

/**
 * One reconcile of the whole observed state: observe every node, plan, and (when `apply`) run the
 * plan node by node, observe again and verify that the new plan is empty. A node that fails never
 * stops the others. Returns the plan that was shown and per-node results.
 */
export async function reconcile(
  o: ReconcileOptions & { apply: boolean },
): Promise<{ plan: Plan; results: NodeResult[] }> {
  const ordered = orderReconcilers(o.reconcilers);
  const observed = await planAll(o, ordered, selectNodes(o.manifest, o.only));
  // Sessions to control-plane nodes outside `--only`, opened when the plan or the roll asks them.
  const gateSessions = new Map<string, Session>();
  const planned = await decideAll(o, observed, gateSessions);
  const plan: Plan = {
    cluster: o.manifest.cluster.name,
    createdAt: new Date().toISOString(),
    ...(o.manifestDigest !== undefined ? { manifestDigest: o.manifestDigest } : {}),
    nodes: planned.map((p) => p.nodePlan),
  };
  o.onPlan?.(plan);
  try {
    if (o.saved) {
      const stale = findStaleness(o.saved, plan);
      if (stale.length > 0) throw new StalePlanError(stale);
    }
    // Nothing changes on a node without a yes: what this run would apply is counted once, here.
    const changes = planned.flatMap((p) => (p.session === undefined ? [] : toApply(p.nodePlan.changes)));
    const nodes = new Set(changes.map((c) => c.node)).size;
    if (
      o.apply &&
      changes.length > 0 &&
      !o.saved &&
      o.approve &&
      !(await o.approve({ changes: changes.length, nodes }))
    ) {
      throw new PicoError(
        `${changes.length} change${changes.length === 1 ? "" : "s"} on ${nodes} node${nodes === 1 ? "" : "s"} not approved (answer y on a terminal, or pass --yes): nothing was applied`,
      );
    }
    const rebuilds = plan.nodes.filter((n) => toApply(n.changes).some((c) => c.risk === "destroy"));
    if (o.apply && rebuilds.length > 0 && o.confirm && !(await o.confirm(rebuilds.map((n) => n.node)))) {
      throw new PicoError(
        `rebuild of ${rebuilds.map((n) => n.node).join(", ")} not confirmed (answer y on a terminal, or pass --yes): nothing was applied`,
      );
    }
    const runOne = (p: Planned) => runNode(o, ordered, p);
    if (!o.apply) return { plan, results: await mapLimit(planned, o.concurrency, runOne) };
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
      const gate = await waitForVirtualIp(o, planned, gateSessions, p.node.name);
      if (gate !== undefined) {
        result.errors.push(gate);
        if (result.outcome === "converged" || result.outcome === "pending") result.outcome = "failed";
        stopped = `not applied: the rolling apply stopped after ${p.node.name}: ${gate}`;
      }
    }
    return { plan, results: planned.map((p) => byNode.get(p.node.name) as NodeResult) };
  } finally {
    await Promise.all([
      ...planned.map((p) => p.session?.close()),
      ...[...gateSessions.values()].map((s) => s.close()),
    ]);
  }
}

/** Runs one node's part of the plan (or only reports it, in a dry-run or when suspended). */
async function runNode(
  o: ReconcileOptions & { apply: boolean },
  ordered: Reconciler[],
  p: Planned,
): Promise<NodeResult> {
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
  if (suspended && o.apply) o.onProgress?.(p.node.name, "suspended: observed and reported, not applied");
  // A refused change is an error of the run, whatever else happens on the node.
  result.errors.push(...refusals(p.nodePlan.changes).map((r) => `${p.node.name}: ${r}`));
  if (!o.apply || toApply(p.nodePlan.changes).length === 0) {
    const outcome =
      result.errors.length > 0 ? "failed" : p.nodePlan.changes.length > 0 ? "pending" : "converged";
    if (o.apply && !suspended && outcome === "converged")
      await recordOnNode(o, p.session, p.nodePlan, { ...result, outcome });
    return { ...result, outcome, ...(suspended ? { suspended } : {}) };
  }
  const applied = await applyNode(o, ordered, p.session, p.node, p.nodePlan, result);
  // After a reboot the node answers on a new connection: the run keeps that one (and closes it).
  p.session = applied.session;
  return applied.result;
}

/**
 * Sessions to every control-plane node (but `except`): the run's own, or new ones (kept in `extra`)
 * for nodes outside `--only`; `down` names those that cannot be reached.
 */
async function controlPlaneSessions(
  o: ReconcileOptions,
  planned: Planned[],
  extra: Map<string, Session>,
  except?: NodeSpec,
): Promise<{ sessions: Session[]; down: string[] }> {
  const sessions: Session[] = [];
  const down: string[] = [];
  for (const node of o.manifest.nodes.filter((n) => n !== except && n.roles.includes("control-plane"))) {
    const q = planned.find((x) => x.node.name === node.name);
    let session = q ? q.session : extra.get(node.name);
    if (!q && !session) {
      session = await o.transport.connect(node).catch(() => undefined);
      if (session) extra.set(node.name, session);
    }
    if (session) sessions.push(session);
    else down.push(node.name);
  }
  return { sessions, down };
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
  const vip = o.manifest.cluster.virtualIp;
  if (vip === undefined || o.manifest.keepalived === undefined) return undefined;
  const { sessions } = await controlPlaneSessions(o, planned, extra);
  o.onProgress?.(after, `waiting for one holder of the virtual IP ${vip}`);
  const gate = await waitForOneVipHolder(sessions, vip, o.vipTimeoutMs ?? 30_000);
  if ("error" in gate) return gate.error;
  o.onProgress?.(
    after,
    `virtual IP ${vip} held by ${gate.holder} (${(gate.waitedMs / 1000).toFixed(1)} s after the changes)`,
  );
  return undefined;
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
  const verdict: NodeOutcome = rolledBack
    ? "rolled-back"
    : errors.length > 0
      ? unexpected.length > 0
        ? "not-converged"
        : "failed"
      : after.changes.length > 0
        ? "pending"
        : "converged";
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

/** Saves what the access changes may touch and arms the dead-man timer; returns the transaction id. */
async function beginAccessTransaction(
  o: ReconcileOptions,
  session: Session,
  access: Change[],
): Promise<string> {
  const missing = access.filter((c) => !c.guard).map((c) => c.concern);
  if (missing.length > 0)
    throw new PicoError(`access changes without a guard (a bug in ${missing.join(", ")})`);
  const txn = `${Date.now().toString(36)}${randomBytes(3).toString("hex")}`;
  for (const command of [
    buildSnapshotCommand(
      txn,
      access.map((c) => c.guard as Guard),
    ),
    buildArmCommand(txn, o.deadmanSeconds ?? 120),
  ]) {
    const r = await session.exec(command);
    if (r.exitCode !== 0)
      throw new StepError(
        session.node,
        "access guard",
        command.split("\n")[0] ?? command,
        r.exitCode,
        r.stderr,
      );
  }
  return txn;
}

/**
 * Proves that the admin user can still log in: a NEW connection with the key, and `sudo -n true`.
 * Returns undefined when proven, else why not.
 */
async function proveAccess(o: ReconcileOptions, node: NodeSpec): Promise<string | undefined> {
  const user = o.manifest.admin.user;
  const timeoutMs = o.proofTimeoutMs ?? 20_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<string>((resolve) => {
    timer = setTimeout(() => resolve(`no login as ${user} within ${timeoutMs / 1000} s`), timeoutMs);
  });
  let done = false;
  const attempt = (async () => {
    // sshd may be re-executing after a reload: a refused connection is retried until the timeout;
    // a refused login is an answer.
    for (;;) {
      let proof: Session | undefined;
      try {
        proof = await o.transport.connect(node, { user });
        const r = await proof.exec("true");
        return r.exitCode === 0
          ? undefined
          : `${user} logged in but sudo -n failed (exit ${r.exitCode}): ${r.stderr.trim()}`;
      } catch (err) {
        // Only "no answer at all" is retried; a refused login or a host key problem is the answer.
        if (done || !(err instanceof UnreachableError))
          return `a new login as ${user} with the key failed: ${(err as Error).message}`;
      } finally {
        await proof?.close();
      }
      await new Promise((r) => setTimeout(r, 300));
    }
  })();
  try {
    return await Promise.race([attempt, timeout]);
  } finally {
    done = true;
    clearTimeout(timer);
  }
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
