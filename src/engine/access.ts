// The access transaction of one node: what the access changes may touch is saved, a dead-man timer
// is armed, the changes run marked as the transaction's, a NEW login as the admin user proves them,
// and the timer is disarmed; or they are rolled back over the connection still open.
import { randomBytes } from "node:crypto";
import { PicoError, StepError, UnreachableError } from "../errors.js";
import type { Session } from "../transport/session.js";
import { applyChanges } from "./apply.js";
import { diagnostic, diagnosticFrom, type RunDiagnostic } from "./diagnostics.js";
import {
  buildArmCommand,
  buildDisarmCommand,
  buildRollbackCommand,
  buildSnapshotCommand,
  buildTxnPrefix,
} from "./guard.js";
import type { ReconcileOptions } from "./options.js";
import type { Change, Guard, NodeSpec } from "./types.js";

/** Saves what the access changes may touch and arms the dead-man timer; returns the transaction id. */
export async function beginAccessTransaction(
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
export async function proveAccess(o: ReconcileOptions, node: NodeSpec): Promise<string | undefined> {
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

/** How one access transaction ended. */
export interface AccessOutcome {
  /** The transaction's id (its folder, its timer, its processes' mark). */
  id: string;
  /** Access changes applied completely. */
  applied: number;
  /** Proven by a new login and disarmed in time: the rest of the plan may run. */
  proven: boolean;
  /** Not proven, and put back over the connection still open. */
  rolledBack: boolean;
  diagnostics: RunDiagnostic[];
}

/**
 * Applies a node's access changes as one guarded transaction: snapshot and dead-man timer, the
 * changes (each step marked as the transaction's and refused once it is over), a NEW login as the
 * admin user, then the timer disarmed (only while still armed). Not proven: rolled back at once.
 */
export async function applyAccessTransaction(
  o: ReconcileOptions,
  session: Session,
  node: NodeSpec,
  access: Change[],
  progress?: (c: Change) => void,
): Promise<AccessOutcome> {
  const id = await beginAccessTransaction(o, session, access);
  const diagnostics: RunDiagnostic[] = [];
  const outcome = await applyChanges(session, access, progress, undefined, buildTxnPrefix(id));
  if (outcome.error) diagnostics.push(diagnosticFrom(node.name, outcome.error, "step-failed"));
  const refusal = outcome.error ? "a step failed" : await proveAccess(o, node);
  if (refusal === undefined) {
    const r = await session.exec(buildDisarmCommand(id, true));
    if (r.exitCode === 0)
      return { id, applied: outcome.applied, proven: true, rolledBack: false, diagnostics };
    // Too late: the timer restored the node while the proof ran; what was proven is gone.
    diagnostics.push(
      diagnostic(
        node.name,
        "restored",
        `${node.name}: the dead-man timer restored the access changes before they were proven (${r.stderr.trim() || `exit ${r.exitCode}`})`,
      ),
    );
    return { id, applied: outcome.applied, proven: false, rolledBack: false, diagnostics };
  }
  o.onProgress?.(node.name, `rolling back the access changes: ${refusal}`);
  const r = await session.exec(buildRollbackCommand(id));
  const rolledBack = r.exitCode === 0;
  diagnostics.push(
    diagnostic(
      node.name,
      "access",
      rolledBack
        ? `${node.name}: access changes rolled back: ${refusal}`
        : `${node.name}: ROLLBACK FAILED (exit ${r.exitCode}): ${r.stderr.trim()}; the dead-man timer will try again`,
    ),
  );
  return { id, applied: outcome.applied, proven: false, rolledBack, diagnostics };
}
