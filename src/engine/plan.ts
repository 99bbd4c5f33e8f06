import { diagnostic, type RunDiagnostic } from "./diagnostics.js";
import { diffValues } from "./diff.js";
import {
  NO_INPUTS,
  type Change,
  type ClusterFacts,
  type Facts,
  type Inputs,
  type Manifest,
  type NodeSpec,
  type NodeState,
  type Peers,
  type Reconciler,
} from "./types.js";

/**
 * A concern's facts on the manifest's other nodes that it applies to, from the run's observations:
 * undefined for a node not observed or whose facts of this concern are unknown. Pure.
 */
export function peersOf(r: Reconciler, node: NodeSpec, m: Manifest, cluster: ClusterFacts): Peers {
  const peers: Record<string, unknown> = {};
  for (const other of m.nodes) {
    if (other.name === node.name || !r.applies(other, m)) continue;
    const f = cluster.get(other.name)?.[r.name];
    peers[other.name] = f?.ok ? f.value : undefined;
  }
  return peers;
}

/** A node's state: unknown when unreachable or when a concern's facts are unknown, else pending or converged. Pure. */
export function nodeState(
  status: "planned" | "unreachable",
  changes: readonly unknown[],
  unknown: readonly string[] = [],
): NodeState {
  if (status === "unreachable" || unknown.length > 0) return "unknown";
  return changes.length > 0 ? "pending" : "converged";
}

/** The reconcilers that apply to a node, in the given (apply) order. Pure. */
export function concernsFor(node: NodeSpec, m: Manifest, reconcilers: Reconciler[]): Reconciler[] {
  return reconcilers.filter((r) => r.applies(node, m));
}

/**
 * Plans one node from its observed facts: each concern's desired value against its facts, and the
 * other nodes' facts in `cluster` (default: none observed). A concern whose facts are unknown plans
 * nothing and is reported in `diagnostics`. Pure.
 */
export function planNode(
  node: NodeSpec,
  m: Manifest,
  reconcilers: Reconciler[],
  facts: Facts,
  inputs: Inputs = NO_INPUTS,
  cluster: ClusterFacts = new Map(),
): { changes: Change[]; diagnostics: RunDiagnostic[]; unknown: string[] } {
  const changes: Change[] = [];
  const diagnostics: RunDiagnostic[] = [];
  const unknownFacts = (concern: string, summary: string) =>
    diagnostics.push(diagnostic(node.name, "facts-unknown", summary, { concern }));
  const unknown: string[] = [];
  for (const r of concernsFor(node, m, reconcilers)) {
    const observed = facts[r.name];
    if (!observed) {
      unknownFacts(r.name, `${r.name}: no facts were gathered`);
      unknown.push(r.name);
      continue;
    }
    if (!observed.ok) {
      unknownFacts(r.name, `${r.name}: facts unknown: ${observed.error}`);
      unknown.push(r.name);
      continue;
    }
    let drafts;
    try {
      drafts = r.plan(r.desired(node, m, inputs), observed.value, peersOf(r, node, m, cluster));
    } catch (err) {
      // A concern that cannot plan (e.g. a fact it needs is missing) stops only itself.
      unknownFacts(r.name, `${r.name}: cannot plan: ${(err as Error).message}`);
      unknown.push(r.name);
      continue;
    }
    for (const draft of drafts) {
      changes.push({
        ...draft,
        concern: r.name,
        node: node.name,
        diff: diffValues(draft.before, draft.after),
        // Until the run's policy decides (decideDispositions), a change would be applied.
        disposition: { kind: "apply" },
      });
    }
  }
  return { changes, diagnostics, unknown };
}
