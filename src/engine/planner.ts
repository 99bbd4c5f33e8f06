// The first phase of a run: connect to every node, observe it (one exec), plan each concern, and
// decide each change's disposition. What it returns is the plan (plain data) and the open sessions
// the second phase applies it over.
import { PicoError } from "../errors.js";
import type { Session } from "../transport/session.js";
import { mapLimit } from "../util/run.js";
import { diagnosticFrom } from "./diagnostics.js";
import { APPLY_ALL, decideDispositions } from "./dispositions.js";
import { observeNode, type Observation } from "./observe.js";
import type { ReconcileOptions } from "./options.js";
import { nodeState, planNode } from "./plan.js";
import { factsDigests } from "./saved.js";
import type { Change, ClusterFacts, Facts, Manifest, NodePlan, NodeSpec, Reconciler } from "./types.js";

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

/** A node of the run: its spec, the session it was observed over (none when unreachable), its plan. */
export interface Planned {
  node: NodeSpec;
  session?: Session;
  nodePlan: NodePlan;
}

/** A node once observed: its session and observation, or why it could not be reached. */
type Seen =
  { node: NodeSpec; session: Session; observation: Observation } | { node: NodeSpec; error: unknown };

/** The facts of every observed node, by name (what a concern spanning nodes plans against). Pure. */
export function clusterFactsOf(seen: readonly { node: NodeSpec; facts?: Facts }[]): ClusterFacts {
  return new Map(seen.flatMap((s) => (s.facts ? [[s.node.name, s.facts] as const] : [])));
}

/**
 * Connects and observes every node (bounded parallelism), then plans each one against the whole
 * run's facts, and returns the plan with the sessions kept open and the facts it was built on.
 */
export async function planAll(
  o: ReconcileOptions,
  ordered: Reconciler[],
  nodes: NodeSpec[],
): Promise<{ planned: Planned[]; cluster: ClusterFacts }> {
  const seen = await mapLimit(nodes, o.concurrency, async (node): Promise<Seen> => {
    let session: Session | undefined;
    try {
      o.onProgress?.(node.name, "connecting");
      session = await o.transport.connect(node);
      o.onProgress?.(node.name, `observing as ${session.identity}`);
      const observation = await observeNode(session, node, o.manifest, ordered, o.inputs);
      return { node, session, observation };
    } catch (error) {
      await session?.close();
      return { node, error };
    }
  });
  const cluster = clusterFactsOf(
    seen.map((s) => ({ node: s.node, ...("observation" in s ? { facts: s.observation.facts } : {}) })),
  );
  const planned = seen.map((s): Planned => {
    const { node } = s;
    const base = { node: node.name, address: node.address, changes: [] as Change[] };
    if (!("observation" in s))
      return {
        node,
        nodePlan: {
          ...base,
          status: "unreachable",
          state: "unknown",
          diagnostics: [diagnosticFrom(node.name, s.error, "unreachable")],
        },
      };
    const { facts, record, recordError, restored } = s.observation;
    const { changes, diagnostics, unknown } = planNode(node, o.manifest, ordered, facts, o.inputs, cluster);
    return {
      node,
      session: s.session,
      nodePlan: {
        ...base,
        status: "planned",
        state: nodeState("planned", changes, unknown),
        ...(unknown.length > 0 ? { unknown } : {}),
        identity: s.session.identity,
        diagnostics,
        changes,
        facts: factsDigests(facts, ordered),
        ...(record ? { recorded: record } : {}),
        ...(recordError ? { recordError } : {}),
        ...(restored.length > 0 ? { restored } : {}),
      },
    };
  });
  return { planned, cluster };
}

/**
 * Stamps every change's disposition with the run's policy. Only a control-plane rebuild asks which
 * other control-plane nodes are down (the run's own view, or a connection for nodes outside `--only`).
 */
export async function decideAll(
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
 * Sessions to every control-plane node (but `except`): the run's own, or new ones (kept in `extra`)
 * for nodes outside `--only`; `down` names those that cannot be reached.
 */
export async function controlPlaneSessions(
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
