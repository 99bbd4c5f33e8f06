#!/usr/bin/env node
// The command line: commander builds it from the definitions in commands/ (one file per command),
// writes the help, and suggests the nearest command or option for a typo. This is the only file that
// turns outcomes and errors into the process's exit code.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Command, CommanderError, Help, type Option } from "commander";
import { ManifestError, PicoError } from "./errors.js";
import { packageRoot } from "./paths.js";
import { defineApply } from "./commands/apply.js";
import { defineDriftReport } from "./commands/drift-report.js";
import { defineExec } from "./commands/exec.js";
import { defineFacts } from "./commands/facts.js";
import { defineHashPassword } from "./commands/hash-password.js";
import { defineInit } from "./commands/init.js";
import { defineInstallService } from "./commands/install-service.js";
import { defineLab } from "./commands/lab.js";
import { definePower } from "./commands/power.js";
import { defineReconcile } from "./commands/reconcile.js";
import { defineStatus } from "./commands/status.js";
import { defineTftpPrepare } from "./commands/tftp-prepare.js";
import { defineTrust } from "./commands/trust.js";
import { defineValidate } from "./commands/validate.js";
import { defineWatch } from "./commands/watch.js";

const EPILOG = `
Exit codes: 0 success, nothing pending; 1 error; 2 changes pending (with --detailed-exitcode).
Run "picotrader help COMMAND" for a command's options and an example.`;

/** The whole command line; `finish` receives the exit code of the command that ran. */
export function buildProgram(finish: (code: number) => void): Command {
  const { version } = JSON.parse(readFileSync(join(packageRoot(), "package.json"), "utf8")) as {
    version: string;
  };
  const program = new Command("picotrader")
    .description("Keeps a cluster of small servers in the state written in cluster.yaml.")
    .version(version, "-V, --version", "print the version")
    .helpOption("-h, --help", "show this help")
    .showSuggestionAfterError(true)
    .showHelpAfterError('(run "picotrader help" for the commands, "picotrader help COMMAND" for one)')
    .exitOverride()
    // A flag is off unless given: "(default: false)" on each would only be noise.
    .configureHelp({
      optionDescription: (option: Option) =>
        (option.isBoolean() && option.defaultValue === false) ||
        (Array.isArray(option.defaultValue) && option.defaultValue.length === 0)
          ? option.description
          : Help.prototype.optionDescription.call(new Help(), option),
    })
    .addHelpText("after", EPILOG);
  for (const define of [
    defineInit,
    defineTrust,
    defineValidate,
    defineReconcile,
    defineApply,
    defineStatus,
    defineFacts,
    defineWatch,
    defineInstallService,
    defineDriftReport,
    defineExec,
    (p: Command, f: typeof finish) => definePower(p, f, "reboot"),
    (p: Command, f: typeof finish) => definePower(p, f, "shutdown"),
    defineHashPassword,
    defineTftpPrepare,
    defineLab,
  ])
    define(program, finish);
  return program;
}

/** Runs one command line and returns its exit code. The only place errors become exit codes. */
export async function main(argv: string[]): Promise<number> {
  let code = 0;
  try {
    await buildProgram((c) => (code = c)).parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    // Commander has printed its own message (usage errors, help, version): only the code is left.
    if (err instanceof CommanderError) return err.exitCode;
    // Every problem of a manifest on its own line, as compilers print them: file:line:col: error: ...
    if (err instanceof ManifestError) {
      process.stderr.write(`${err.message}\n`);
      return 1;
    }
    if (err instanceof PicoError) {
      process.stderr.write(`error: ${err.message}\n`);
      return 1;
    }
    // Anything else is a bug or a system refusal (EACCES, ENOSPC...): one line, never a stack trace.
    const errno = (err as { code?: unknown }).code;
    process.stderr.write(
      `error: ${(err as Error).message ?? String(err)}${errno === "EACCES" || errno === "EPERM" ? " (this needs root: run it with sudo)" : ""}\n`,
    );
    if (process.env.PICOTRADER_DEBUG === "1") process.stderr.write(`${(err as Error).stack ?? ""}\n`);
    return 1;
  }
}

// A reader that stops early (picotrader --help | head) is not an error.
process.stdout.on("error", (err: NodeJS.ErrnoException) => {
  if (err.code === "EPIPE") process.exit(process.exitCode ?? 0);
  throw err;
});
// Not a top-level await: the bundle is CommonJS (tools/bundle.ts).
void main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
