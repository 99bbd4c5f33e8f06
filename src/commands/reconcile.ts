// `picotrader reconcile`: plan, show, and (unless --dry-run) apply after a yes.
import { Option, type Command } from "commander";
import { PicoError } from "../errors.js";
import {
  concurrencyOption,
  connectionOptions,
  deadmanOption,
  example,
  fileOption,
  onlyOption,
  type Finish,
} from "./options.js";
import type { RunFlags } from "./run-engine.js";

/** The output and run options `reconcile` and `apply` share. */
export function runOptions(cmd: Command): Command {
  return connectionOptions(
    cmd
      .option("--json", "the plan, the results and counters as JSON (what CI reads)", false)
      .option("--markdown", "the plan and results as Markdown (for $GITHUB_STEP_SUMMARY)", false)
      .option("--detailed-exitcode", "exit 2 when changes are pending (as terraform plan)", false)
      .addOption(concurrencyOption())
      .addOption(deadmanOption()),
  );
}

interface ReconcileFlags extends RunFlags {
  dryRun: boolean;
  out?: string;
  only?: string[];
  allowRebuild: boolean;
  yes: boolean;
}

export function defineReconcile(program: Command, finish: Finish): void {
  runOptions(
    program
      .command("reconcile")
      .description(
        "plan the changes that make the nodes match the manifest, show them, and apply them after a yes",
      )
      .addOption(fileOption())
      .option("--dry-run", "show the plan and change nothing", false)
      .option("--out <plan.json>", "with --dry-run: save the plan for picotrader apply")
      .addOption(onlyOption())
      .option("--yes", "apply without asking (needed where there is no terminal)", false)
      .addOption(
        new Option("--allow-rebuild", "apply the rebuild of nodes whose generation was raised").default(
          false,
        ),
      ),
  )
    .addHelpText(
      "after",
      example("picotrader reconcile --dry-run", "picotrader reconcile --only node1 --yes"),
    )
    .action(async (flags: ReconcileFlags) => {
      if (flags.out !== undefined && !flags.dryRun)
        throw new PicoError(
          "--out saves a plan to review: use it with --dry-run, then picotrader apply FILE",
        );
      const { runEngine } = await import("./run-engine.js");
      finish(
        await runEngine(flags, {
          apply: !flags.dryRun,
          allowRebuild: flags.allowRebuild,
          ...(flags.only ? { only: flags.only } : {}),
          ...(flags.out !== undefined ? { out: flags.out } : {}),
          yes: flags.yes,
        }),
      );
    });
}
