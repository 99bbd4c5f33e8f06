import { tail } from "../errors.js";
import { buildProbeScript, newNonce, parseProbeOutput } from "../transport/probe.js";
import type { Session } from "../transport/session.js";
import { concernsFor } from "./plan.js";
import { DEADMAN_LOG } from "./guard.js";
import {
  DEADMAN_SECTION,
  parseDeadmanLog,
  parseRecord,
  RECORD_PATH,
  RECORD_PROBE,
  RECORD_SECTION,
  type DeadmanRestore,
  type NodeRecord,
} from "./record.js";
import {
  NO_INPUTS,
  type Facts,
  type Inputs,
  type Manifest,
  type NodeSpec,
  type Reconciler,
} from "./types.js";

/** What one observation of a node returns: each concern's facts, and the node's record. */
export interface Observation {
  facts: Facts;
  /** undefined: never applied (or the record could not be read: see `recordError`). */
  record?: NodeRecord;
  recordError?: string;
  /** Restores the dead-man timer made since the last apply that converged; [] when none. */
  restored: DeadmanRestore[];
}

/**
 * Gathers a node's facts for every concern that applies to it, and its record: one script, run
 * in the session's kept root shell where it has one (Session.script), else with one exec. A probe
 * that fails or a parser that throws makes only that concern's facts unknown.
 */
export async function observeNode(
  session: Session,
  node: NodeSpec,
  m: Manifest,
  reconcilers: Reconciler[],
  inputs: Inputs = NO_INPUTS,
): Promise<Observation> {
  const concerns = concernsFor(node, m, reconcilers);
  const desired = concerns.map((r) => ({ r, d: r.desired(node, m, inputs) }));
  const nonce = newNonce();
  const script = buildProbeScript(
    [
      ...desired.map(({ r, d }) => ({ name: r.name, script: r.probe(d) })),
      { name: RECORD_SECTION, script: RECORD_PROBE },
      { name: DEADMAN_SECTION, script: `file_text ${DEADMAN_LOG}; true` },
    ],
    nonce,
    desired.flatMap(({ r, d }) => [...(r.units ?? []), ...(r.unitsFor?.(d) ?? [])]),
    [
      ...desired.flatMap(({ r, d }) => [...(r.files ?? []), ...(r.filesFor?.(d) ?? [])]),
      RECORD_PATH,
      DEADMAN_LOG,
    ],
  );
  const result = session.script
    ? await session.script(script)
    : await session.exec("sh -s", { stdin: script });
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
  const answer = answers.get(RECORD_SECTION);
  const restored = parseDeadmanLog(answers.get(DEADMAN_SECTION)?.stdout ?? "");
  try {
    const record = parseRecord(answer?.stdout ?? "");
    return record ? { facts, record, restored } : { facts, restored };
  } catch (err) {
    return { facts, recordError: (err as Error).message, restored };
  }
}
