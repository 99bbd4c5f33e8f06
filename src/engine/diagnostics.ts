// Errors and warnings of a run as values, as OpenTofu's tfdiags are: who (node, concern), how bad,
// what kind (a closed set code decides by), and the words for people. Reports render them; a retry
// or an outcome is decided by `kind`, never by a message's text.
import { ConnectError, HostKeyError, StepError, tail, UnreachableError } from "../errors.js";

/** What went wrong, as a closed set. */
export type DiagnosticKind =
  /** No SSH conversation with the node (refused, timed out, no route). */
  | "unreachable"
  /** The host key is changed, revoked, unpinned or unconfirmed. */
  | "host-key"
  /** Every identity of the ladder was refused. */
  | "auth"
  /** A concern's facts could not be read, or it could not plan on them. */
  | "facts-unknown"
  /** A step of a change failed on the node. */
  | "step-failed"
  /** The access proof failed: the changes were rolled back (or the rollback itself failed). */
  | "access"
  /** The dead-man timer restored the node. */
  | "restored"
  /** Changes this run should have made are still planned after the apply. */
  | "not-converged"
  /** The plan refused a change (a rebuild that could take the last virtual-IP holder). */
  | "refused"
  /** The rolling gate did not see exactly one virtual-IP holder; later nodes were not applied. */
  | "gate"
  /** The node's lock, its record, or a connection lost in the middle of the apply. */
  | "node";

/** One error or warning of a run: who, how bad, what kind, and the words for people. */
export interface RunDiagnostic {
  node: string;
  /** The concern it is about, when there is one. */
  concern?: string;
  severity: "error" | "warning";
  kind: DiagnosticKind;
  /** One line for people. */
  summary: string;
  /** More lines (a command's stderr, say); absent when the summary says it all. */
  detail?: string;
}

/** An error diagnostic. Pure. */
export function diagnostic(
  node: string,
  kind: DiagnosticKind,
  summary: string,
  extra: { concern?: string; detail?: string } = {},
): RunDiagnostic {
  return { node, severity: "error", kind, summary, ...extra };
}

/** A thrown error as a diagnostic: its class says the kind (`fallback` for any other). Pure. */
export function diagnosticFrom(node: string, err: unknown, fallback: DiagnosticKind): RunDiagnostic {
  if (err instanceof StepError) {
    const [summary = err.message] = err.message.split("\n");
    return diagnostic(node, "step-failed", summary, {
      concern: err.concern,
      ...(err.stderr.trim() ? { detail: tail(err.stderr) } : {}),
    });
  }
  const message = err instanceof Error ? err.message : String(err);
  const kind =
    err instanceof UnreachableError
      ? "unreachable"
      : err instanceof HostKeyError
        ? "host-key"
        : err instanceof ConnectError
          ? "auth"
          : fallback;
  return diagnostic(node, kind, message);
}

/** How reports show one: the summary, and its detail on the lines below. Pure. */
export function describeDiagnostic(d: RunDiagnostic): string {
  return d.detail ? `${d.summary}\n${d.detail}` : d.summary;
}

/** The errors among diagnostics. Pure. */
export function errorsOf(ds: readonly RunDiagnostic[]): RunDiagnostic[] {
  return ds.filter((d) => d.severity === "error");
}
