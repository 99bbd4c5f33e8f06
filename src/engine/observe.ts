import { tail } from "../errors.js";
import { buildProbeScript, newNonce, parseProbeOutput } from "../transport/probe.js";
import type { Session } from "../transport/session.js";
import { concernsFor } from "./plan.js";
import type { Facts, Manifest, NodeSpec, Reconciler } from "./types.js";

/**
 * Gathers a node's facts for every concern that applies to it: one script, one exec. A probe that
 * fails or a parser that throws makes only that concern's facts unknown, with the reason.
 */
export async function observeNode(
  session: Session,
  node: NodeSpec,
  m: Manifest,
  reconcilers: Reconciler[],
): Promise<Facts> {
  const concerns = concernsFor(node, m, reconcilers);
  const nonce = newNonce();
  const script = buildProbeScript(
    concerns.map((r) => ({ name: r.name, script: r.probe(r.desired(node, m)) })),
    nonce,
  );
  const result = await session.exec("sh -s", { stdin: script });
  const answers = parseProbeOutput(result.stdout, nonce);
  const facts: Facts = {};
  for (const r of concerns) {
    const answer = answers.get(r.name);
    if (!answer) {
      facts[r.name] = {
        ok: false,
        error: `the probe gave no answer (exit ${result.exitCode}${result.stderr ? `: ${tail(result.stderr, 3)}` : ""})`,
      };
    } else if (answer.exitCode !== 0) {
      facts[r.name] = {
        ok: false,
        error: `probe exited ${answer.exitCode}${answer.stderr ? `: ${tail(answer.stderr, 3)}` : ""}`,
      };
    } else {
      try {
        facts[r.name] = { ok: true, value: r.parse(answer.stdout) };
      } catch (err) {
        facts[r.name] = { ok: false, error: `cannot parse the probe's output: ${(err as Error).message}` };
      }
    }
  }
  return facts;
}
