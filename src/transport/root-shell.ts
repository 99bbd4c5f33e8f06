// A root shell kept open on a session's connection for read-only scripts (the probes): each script
// then costs the node neither a channel's login shell nor a sudo (its PAM stack and its log line),
// which on a watch loop's every tick are most of what a converged node spends besides the probe
// itself. The shell reads each script as the body of a function and runs it in a subshell whose
// standard input is /dev/null, so that a script can neither read the next one nor change the shell
// it runs in; a marker with a random nonce, printed after it, ends its output. Only probes use it:
// the session ends the shell before any other command (see SshSession), so that a change made
// through the session is followed by a probe under a fresh sudo.
import type { Readable, Writable } from "node:stream";
import { framedRun, framedTail, newNonce } from "./probe.js";
import type { ExecResult } from "./session.js";

/** What the shell runs on: an SSH exec channel, or a local child process in tests. */
export interface ShellChannel {
  stdin: Writable;
  stdout: Readable;
  stderr: Readable;
  /** Called once, when the remote process ended and the channel closed, with its exit code if any. */
  onClose(f: (code: number | null) => void): void;
}

/**
 * The text sent for one script: its function, then its run framed as a probe's section is (its
 * exit code and stderr between markers after its stdout). Pure.
 */
export function shellRequest(script: string, nonce: string): string {
  return `pt_script() {\n${script}\n}\nexec 3>&1\n${framedRun("pt_script", nonce)}\n`;
}

interface Pending {
  resolve(r: ExecResult): void;
  started: number;
}

export class RootShell {
  private stdout = "";
  private stderr = "";
  private pending?: Pending;
  private queue: Promise<unknown> = Promise.resolve();
  private closed = false;
  private readonly marker: RegExp;

  constructor(
    private readonly channel: ShellChannel,
    /** How the shell was started, for the results' `command`. */
    private readonly command: string,
    private readonly nonce = newNonce(),
  ) {
    this.marker = new RegExp(framedTail(nonce));
    channel.stdout.setEncoding("utf8");
    channel.stderr.setEncoding("utf8");
    channel.stdout.on("data", (chunk: string) => {
      this.stdout += chunk;
      this.settle();
    });
    channel.stderr.on("data", (chunk: string) => (this.stderr += chunk));
    // A write after the remote end went away fails here, and the close below answers the script.
    channel.stdin.on("error", () => undefined);
    channel.onClose((code) => {
      this.closed = true;
      // The shell ended before the script's marker (sudo refused, the node went away): the script's
      // result is the shell's, as a plain exec's would be.
      const p = this.pending;
      this.pending = undefined;
      p?.resolve(this.result(code ?? 1, this.stdout, p.started));
    });
  }

  /** False once the shell ended (closed, or its connection went away). */
  get alive(): boolean {
    return !this.closed;
  }

  /** Runs a read-only script as the shell's user; one at a time, in the order asked. */
  run(script: string): Promise<ExecResult> {
    const next = this.queue.then(
      () =>
        new Promise<ExecResult>((resolve) => {
          const started = Date.now();
          if (this.closed) return resolve(this.result(1, "", started, "the kept shell has ended\n"));
          this.pending = { resolve, started };
          this.channel.stdin.write(shellRequest(script, this.nonce));
        }),
    );
    this.queue = next;
    return next;
  }

  /** Ends the shell: it reads end of input and exits. */
  close(): void {
    if (this.closed) return;
    this.channel.stdin.end();
  }

  private settle(): void {
    const m = this.marker.exec(this.stdout);
    if (!m || !this.pending) return;
    const p = this.pending;
    this.pending = undefined;
    const output = this.stdout.slice(0, m.index);
    this.stdout = this.stdout.slice(m.index + m[0].length);
    p.resolve(this.result(Number(m[1]), output, p.started, m[2]));
  }

  /** A result as exec gives one; stderr, unless given, is what the shell itself wrote. */
  private result(exitCode: number, stdout: string, started: number, stderr?: string): ExecResult {
    const shell = this.stderr;
    this.stderr = "";
    return {
      command: this.command,
      exitCode,
      stdout,
      stderr: stderr ?? shell,
      durationMs: Date.now() - started,
    };
  }
}
