/** The result of a remote command: the same shape whether it failed or not. */
export interface ExecResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A command's standard input: text, or a controller file streamed as it is (binary, any size). */
export interface ExecOptions {
  stdin?: string;
  stdinFile?: string;
}

/** Counters a session keeps, for benchmarks and `--json`. */
export interface SessionStats {
  /** Connection attempts, including ones an identity ladder gave up on. */
  connections: number;
  execs: number;
}

/**
 * An open connection to one node. exec() runs a POSIX sh command as root (through `sudo -n` when
 * logged in as another user) and returns its result; a non-zero exit is a result, not an error.
 */
export interface Session {
  node: string;
  /** The login used, for reports: "sysman (key)", "root (key)". */
  identity: string;
  /** The user logged in as; undefined where a transport does not say. */
  user?: string;
  stats: SessionStats;
  exec(command: string, options?: ExecOptions): Promise<ExecResult>;
  /**
   * Runs a read-only POSIX sh script as root, as `exec("sh -s", { stdin: script })` would, where a
   * transport can do it for less (SSH: in a root shell kept open while nothing else runs through
   * the session). Optional: callers fall back to exec.
   */
  script?(script: string): Promise<ExecResult>;
  close(): Promise<void>;
}

/** Opens sessions; the SSH transport in production, a scripted fake in unit tests. */
export interface Transport {
  /**
   * Connects through the identity ladder, or only as `as.user` with the key when given (the
   * engine's proof that the admin user can still log in after an access change).
   */
  connect(node: { name: string; address: string; sshPort?: number }, as?: { user: string }): Promise<Session>;
  /**
   * The node was re-imaged: drop its pinned host key, and let the next connection learn (and pin)
   * the new one. Transports without host keys need not have it.
   */
  forgetHostKey?(node: { name: string; address: string; sshPort?: number }): void;
}
