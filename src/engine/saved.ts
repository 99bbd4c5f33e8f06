// Saved plans: what a reviewer approves. A plan records the digest of the manifest and, per node,
// of the facts each concern was planned on; applying it later observes again and refuses when any
// of them changed (Terraform's "saved plan is stale"), naming the node and the concern.
import { createHash } from "node:crypto";
import type { Facts, Plan, Reconciler } from "./types.js";

/** Why a saved plan cannot be applied: what changed since it was made. */
export interface Staleness {
  node?: string;
  concern?: string;
  message: string;
}

/**
 * The digest of one concern's facts. Keyed stand-ins of secrets ("(secret 1a2b3c4d)", keyed per
 * process) are folded to "(secret)" first, so that a digest never depends on, nor reveals, a secret. Pure.
 */
export function factsDigest(fact: Facts[string], reconciler?: Reconciler): string {
  const value = fact.ok
    ? reconciler?.stableFacts
      ? reconciler.stableFacts(fact.value)
      : fact.value
    : undefined;
  const text = JSON.stringify(fact.ok ? value : { unknown: fact.error }).replace(
    /\(secret [0-9a-f]{8}\)/g,
    "(secret)",
  );
  return createHash("sha256").update(text).digest("hex");
}

/** The digest of each concern's facts, by concern. Pure. */
export function factsDigests(facts: Facts, reconcilers: Reconciler[]): Record<string, string> {
  return Object.fromEntries(
    Object.entries(facts).map(([concern, f]) => [
      concern,
      factsDigest(
        f,
        reconcilers.find((r) => r.name === concern),
      ),
    ]),
  );
}

/** A change as a saved plan compares it: what it does, where, and its disposition (secrets redacted). */
function changeKey(c: Plan["nodes"][number]["changes"][number]): string {
  return JSON.stringify({
    concern: c.concern,
    summary: c.summary,
    risk: c.risk,
    disposition: c.disposition,
    steps: c.steps.map((s) =>
      s.kind === "write" ? { ...s, content: s.sensitive ? s.content.length : s.content } : s,
    ),
  });
}

/**
 * What changed between a saved plan and the plan made now from fresh facts: the manifest, a node's
 * facts per concern, a node that is gone or unreachable, or the changes themselves. [] when the
 * saved plan may be applied as it is. Pure.
 */
export function findStaleness(saved: Plan, now: Plan): Staleness[] {
  const out: Staleness[] = [];
  if (saved.manifestDigest !== now.manifestDigest)
    out.push({ message: "the manifest changed since the plan was made" });
  for (const s of saved.nodes) {
    const n = now.nodes.find((x) => x.node === s.node);
    if (!n || n.status !== "planned") {
      out.push({ node: s.node, message: `${s.node} could not be observed again` });
      continue;
    }
    const concerns = new Set([...Object.keys(s.facts ?? {}), ...Object.keys(n.facts ?? {})]);
    for (const concern of [...concerns].sort()) {
      if (s.facts?.[concern] !== n.facts?.[concern])
        out.push({
          node: s.node,
          concern,
          message: `${s.node}: the facts of ${concern} changed since the plan was made`,
        });
    }
    const a = s.changes.map(changeKey);
    const b = n.changes.map(changeKey);
    if (out.every((x) => x.node !== s.node) && JSON.stringify(a) !== JSON.stringify(b))
      out.push({ node: s.node, message: `${s.node}: the plan made now differs from the saved one` });
  }
  for (const n of now.nodes)
    if (!saved.nodes.some((s) => s.node === n.node))
      out.push({ node: n.node, message: `${n.node} is not in the saved plan` });
  return out;
}
