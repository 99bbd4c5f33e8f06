/**
 * Named errors. Only src/cli.ts turns them into messages and exit codes; everything else throws
 * or returns them, keeping the original failure as `cause`.
 */

/** Base of every error PicoTrader raises on purpose; `message` is meant for the operator. */
export class PicoError extends Error {
  override name = "PicoError";
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** One problem in a manifest, located as file:line:col. */
export interface Diagnostic {
  file: string;
  line: number;
  col: number;
  /** Dotted path inside the manifest, e.g. `nodes[1].address`; "" for the whole document. */
  path: string;
  message: string;
}

/** Formats a diagnostic the way compilers do, so editors and CI can jump to it. */
export function formatDiagnostic(d: Diagnostic): string {
  return `${d.file}:${d.line}:${d.col}: error: ${d.path === "" ? "(root)" : d.path}: ${d.message}`;
}

/** The manifest cannot be used; carries every problem found, not just the first. */
export class ManifestError extends PicoError {
  override name = "ManifestError";
  constructor(readonly diagnostics: Diagnostic[]) {
    super(diagnostics.map(formatDiagnostic).join("\n"));
  }
}

/** A lab operation failed or cannot run here (not root, not Linux, missing tools). */
export class LabError extends PicoError {
  override name = "LabError";
}

/** A local command (ip, mount, mmdebstrap, ...) exited non-zero. */
export class CommandError extends PicoError {
  override name = "CommandError";
  constructor(
    readonly command: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(`command failed (exit ${exitCode}): ${command}${stderr ? `\n${tail(stderr)}` : ""}`);
  }
}

/** A node could not be reached or refused every identity; `node` names it. */
export class ConnectError extends PicoError {
  override name = "ConnectError";
  constructor(
    readonly node: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${node}: ${message}`, options);
  }
}

/** No SSH conversation with the node at all (refused, timed out, no route): it may answer later. */
export class UnreachableError extends ConnectError {
  override name = "UnreachableError";
}

/** The node's host key is not the pinned one: possibly a re-imaged board, possibly an attack. */
export class HostKeyError extends ConnectError {
  override name = "HostKeyError";
}

/** A secret was about to go to a host key nobody pinned or confirmed: the operator may confirm `fingerprint`. */
export class UnconfirmedHostKeyError extends HostKeyError {
  override name = "UnconfirmedHostKeyError";
  constructor(
    node: string,
    readonly fingerprint: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(node, message, options);
  }
}

/** A step of a change failed on a node. */
export class StepError extends PicoError {
  override name = "StepError";
  constructor(
    readonly node: string,
    readonly concern: string,
    readonly command: string,
    readonly exitCode: number,
    readonly stderr: string,
  ) {
    super(
      `${node}: ${concern}: step failed (exit ${exitCode}): ${command}${stderr ? `\n${tail(stderr)}` : ""}`,
    );
  }
}

/** The last lines of a command's output, enough to explain a failure without flooding the screen. */
export function tail(text: string, lines = 8): string {
  return text.trimEnd().split("\n").slice(-lines).join("\n");
}
