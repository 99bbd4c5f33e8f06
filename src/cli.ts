#!/usr/bin/env node
import { PicoError } from "./errors.js";
import { labCommand } from "./lab/cli.js";

const USAGE = `usage: picotrader <command> [options]

  validate  [-f cluster.yaml]                       check the manifest (schema and rules)
  reconcile [-f FILE] [--dry-run [--out PLAN.json]] [--detailed-exitcode] [--json] [--markdown]
            [--only NODE,...] [--concurrency N] [--accept-new-host-keys] [--host-fingerprint NODE=SHA256:...]
            [--yes] [--allow-rebuild]       applies only after a y on a terminal, or with --yes
  apply     PLAN.json [--json]                      apply a saved plan (reconcile --dry-run --out PLAN.json); refused when stale
  facts     [-f FILE] [NODE]                        observed facts as JSON
  status    [-f FILE] [--json] [--only NODE,...]     per node: reachable, commit applied, pending changes
  watch     [-f FILE] [--interval 5m] [--no-fetch]  the GitOps controller: reconcile on change, commit and interval
  install-service [-f FILE] [--user USER]           install the controller as a systemd service
  drift-report --plan plan.json [--markdown|--issue] CI: the summary, or the drift issue payload
  tftp-prepare IMAGE [--boot DIR] [--out tftp] [--part-size 16M]   the TFTP server's files from an image
  hash-password                                     a sha512-crypt hash for rootPassword.hash (asked twice, or stdin)
  exec      [-f FILE] [--only NODE,...] [--json] -- CMD   run CMD as root on every node; output per node
  reboot    [-f FILE] [--only NODE,...] [--yes]     reboot the nodes one at a time, each back before the next
  shutdown  [-f FILE] [--only NODE,...] [--yes]     power the nodes off one at a time
  lab image|up|down|status|reset|start|stop|ssh|run|manifest|list   the simulated cluster

exit codes: 0 success, nothing pending; 1 error; 2 changes pending (with --detailed-exitcode)`;

/** Runs one command and returns its exit code. The only place errors become exit codes. */
export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "lab":
        return await labCommand(rest);
      case undefined:
      case "-h":
      case "--help":
      case "help":
        process.stdout.write(`${USAGE}\n`);
        return command === undefined ? 1 : 0;
      default: {
        const { engineCommand } = await import("./commands.js");
        return await engineCommand(command, rest);
      }
    }
  } catch (err) {
    if (err instanceof PicoError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    if (
      err instanceof Error &&
      err.name === "TypeError" &&
      "code" in err &&
      String(err.code).startsWith("ERR_PARSE_ARGS")
    ) {
      process.stderr.write(`error: ${err.message}\n${USAGE}\n`);
      return 1;
    }
    // Anything else is a bug or a system refusal (EACCES, ENOSPC...): one line, never a stack trace.
    const code = (err as { code?: unknown }).code;
    process.stderr.write(
      `error: ${(err as Error).message ?? String(err)}${code === "EACCES" || code === "EPERM" ? " (this needs root: run it with sudo)" : ""}\n`,
    );
    if (process.env.PICOTRADER_DEBUG === "1") process.stderr.write(`${(err as Error).stack ?? ""}\n`);
    return 1;
  }
}

process.exitCode = await main(process.argv.slice(2));
