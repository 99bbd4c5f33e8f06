import { diffValues } from "./diff.js";
import {
  NO_INPUTS,
  type Change,
  type Facts,
  type Inputs,
  type Manifest,
  type NodeSpec,
  type Reconciler,
} from "./types.js";

/** The reconcilers that apply to a node, in the given (apply) order. Pure. */
export function concernsFor(node: NodeSpec, m: Manifest, reconcilers: Reconciler[]): Reconciler[] {
  return reconcilers.filter((r) => r.applies(node, m));
}

/**
 * Plans one node from its observed facts: each concern's desired value against its facts.
 * A concern whose facts are unknown plans nothing and is reported in `errors`. Pure.
 */
export function planNode(
  node: NodeSpec,
  m: Manifest,
  reconcilers: Reconciler[],
  facts: Facts,
  inputs: Inputs = NO_INPUTS,
): { changes: Change[]; errors: string[] } {
  const changes: Change[] = [];
  const errors: string[] = [];
  for (const r of concernsFor(node, m, reconcilers)) {
    const observed = facts[r.name];
    if (!observed) {
      errors.push(`${r.name}: no facts were gathered`);
      continue;
    }
    if (!observed.ok) {
      errors.push(`${r.name}: facts unknown: ${observed.error}`);
      continue;
    }
    let drafts;
    try {
      drafts = r.plan(r.desired(node, m, inputs), observed.value);
    } catch (err) {
      // A concern that cannot plan (e.g. a fact it needs is missing) stops only itself.
      errors.push(`${r.name}: cannot plan: ${(err as Error).message}`);
      continue;
    }
    for (const draft of drafts) {
      changes.push({
        ...draft,
        concern: r.name,
        node: node.name,
        diff: diffValues(draft.before, draft.after),
      });
    }
  }
  return { changes, errors };
}
