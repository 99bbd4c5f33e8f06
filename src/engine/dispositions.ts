// The one place that decides whether a change may be applied in this run. Everything downstream
// (the approval, the apply, the rolling gate, reports, exit codes) reads the disposition stamped
// here and never asks again.
import type { Change, Disposition, Manifest, NodePlan, NodeSpec, Risk } from "./types.js";

/** What a run allows: risks it withholds, each with the reason people see. */
export interface ApplyPolicy {
  /** Changes with these risks stay pending (withheld), e.g. rebuilds without --allow-rebuild. */
  withhold: Partial<Record<Risk, string>>;
}

/** The policy that applies everything. */
export const APPLY_ALL: ApplyPolicy = { withhold: {} };

/** Whether the manifest suspends this node (or the whole cluster). Pure. */
export function isSuspended(m: Manifest, node: NodeSpec): boolean {
  return m.suspend === true || node.suspend === true;
}

/**
 * One change's disposition: suspended, withheld by the policy, refused (a control-plane rebuild while
 * another control-plane node is down, in `controlPlanesDown`), else apply. Pure.
 */
export function decideDisposition(
  c: Change,
  node: NodeSpec,
  m: Manifest,
  policy: ApplyPolicy,
  controlPlanesDown: readonly string[],
): Disposition {
  if (isSuspended(m, node)) return { kind: "suspended" };
  const reason = c.risk === undefined ? undefined : policy.withhold[c.risk];
  if (reason !== undefined) return { kind: "withheld", reason };
  const down = controlPlanesDown.filter((n) => n !== node.name);
  if (
    c.risk === "destroy" &&
    node.roles.includes("control-plane") &&
    m.keepalived !== undefined &&
    down.length > 0
  )
    return {
      kind: "refused",
      reason: `rebuild refused: ${down.join(", ")} (control-plane) is down, and ${node.name} could be the last holder of the virtual IP`,
    };
  return { kind: "apply" };
}

/** The node's plan with every change's disposition decided. Pure. */
export function decideDispositions(
  nodePlan: NodePlan,
  node: NodeSpec,
  m: Manifest,
  policy: ApplyPolicy,
  controlPlanesDown: readonly string[] = [],
): NodePlan {
  return {
    ...nodePlan,
    changes: nodePlan.changes.map((c) => ({
      ...c,
      disposition: decideDisposition(c, node, m, policy, controlPlanesDown),
    })),
  };
}

/** How reports tag a change this run does not apply: " [withheld: why]"; "" for one it applies. Pure. */
export function describeDisposition(d: Disposition): string {
  if (d.kind === "apply") return "";
  return d.kind === "suspended" ? " [suspended]" : ` [${d.kind}: ${d.reason}]`;
}

/** The changes of a list that this run applies. Pure. */
export function toApply(changes: readonly Change[]): Change[] {
  return changes.filter((c) => c.disposition.kind === "apply");
}
