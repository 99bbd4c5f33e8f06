import { PicoError, StepError } from "../errors.js";
import { shellQuote } from "../transport/quote.js";
import type { Session } from "../transport/session.js";
import { buildStepCommand } from "../transport/steps.js";
import type { Change } from "./types.js";

const LOCK = "/run/picotrader/lock";

/** Another controller is applying to this node. */
export class NodeLockedError extends PicoError {
  override name = "NodeLockedError";
}

/** Takes the node's apply lock (one reconcile at a time per node); throws naming the holder. */
export async function lockNode(session: Session, holder: string): Promise<void> {
  const result = await session.exec(
    `mkdir -p /run/picotrader && if mkdir ${LOCK} 2>/dev/null; then printf '%s\\n' ${shellQuote(holder)} > ${LOCK}/holder; else cat ${LOCK}/holder 2>/dev/null; exit 75; fi`,
  );
  if (result.exitCode === 75) {
    throw new NodeLockedError(
      `${session.node}: another reconcile holds the node's lock (${result.stdout.trim() || "unknown holder"}); if none runs, remove ${LOCK} on the node`,
    );
  }
  if (result.exitCode !== 0)
    throw new StepError(session.node, "lock", `mkdir ${LOCK}`, result.exitCode, result.stderr);
}

export async function unlockNode(session: Session): Promise<void> {
  await session.exec(`rm -rf ${LOCK}`);
}

/**
 * Runs the changes' steps in order on one node. Stops at the first failing step. A reboot step
 * calls `reboot`, which returns a session on the node's new boot; later steps use it. Without
 * `reboot`, a conditional reboot step is skipped and an unconditional one is an error. Returns how
 * many changes were applied completely, the session in use at the end, and, on failure, a StepError
 * naming node, concern, command, exit code and the tail of stderr.
 */
export async function applyChanges(
  session: Session,
  changes: Change[],
  onChange?: (c: Change) => void,
  reboot?: (session: Session, change: Change) => Promise<Session>,
  /** Shell run before every command step (an access transaction's mark and check); none by default. */
  prefix?: string,
): Promise<{ applied: number; session: Session; error?: StepError }> {
  let applied = 0;
  let current = session;
  for (const change of changes) {
    onChange?.(change);
    for (const step of change.steps) {
      if (step.kind === "reboot" && step.onlyIf !== undefined) {
        // A conditional reboot where reboots are withheld (watch mode) is left to the next plan,
        // which shows it as a reboot change of its own.
        if (!reboot || (await current.exec(step.onlyIf)).exitCode !== 0) continue;
      }
      if (step.kind === "reboot") {
        if (!reboot)
          throw new PicoError(`${change.node}: ${change.concern} wants a reboot, and none is allowed here`);
        try {
          current = await reboot(current, change);
        } catch (err) {
          const error = new StepError(change.node, change.concern, "reboot", -1, (err as Error).message);
          return { applied, session: current, error };
        }
        continue;
      }
      const built = buildStepCommand(step);
      const command = prefix === undefined ? built.command : `${prefix}\n${built.command}`;
      const result = await current.exec(command, built);
      if (result.exitCode !== 0) {
        const shown = step.kind === "write" ? `write ${step.path}` : step.command;
        return {
          applied,
          session: current,
          error: new StepError(change.node, change.concern, shown, result.exitCode, result.stderr),
        };
      }
    }
    applied++;
  }
  return { applied, session: current };
}
