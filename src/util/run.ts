import { spawn } from "node:child_process";
import { CommandError } from "../errors.js";

/** The result of a local command, the same shape whether it failed or not. */
export interface RunResult {
  command: string;
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
}

export interface RunOptions {
  /** Written to the command's standard input, which is closed afterwards. */
  input?: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

/** Runs a local command without a shell and collects its output. Never throws for a non-zero exit. */
export function run(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const command = [file, ...args].join(" ");
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(file, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
    child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
    child.on("error", (err) => reject(new CommandError(command, 127, err.message)));
    child.on("close", (code, signal) =>
      resolve({
        command,
        exitCode: code ?? (signal ? 128 : 1),
        stdout,
        stderr,
        durationMs: Date.now() - started,
      }),
    );
    if (child.stdin) {
      // A command may exit without reading its input; that is its answer, not our failure.
      child.stdin.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE") reject(err);
      });
      child.stdin.end(options.input);
    }
  });
}

/** Like run(), but a non-zero exit is a CommandError naming the command and the tail of stderr. */
export async function runOk(file: string, args: string[], options: RunOptions = {}): Promise<RunResult> {
  const result = await run(file, args, options);
  if (result.exitCode !== 0) throw new CommandError(result.command, result.exitCode, result.stderr);
  return result;
}

/** Runs `worker` over `items` with at most `limit` at once; results keep the input order. */
export async function mapLimit<T, R>(
  items: T[],
  limit: number,
  worker: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await worker(items[i] as T);
    }
  });
  await Promise.all(lanes);
  return results;
}
