// `picotrader apply PLAN.json`: observes again and applies exactly the saved plan, or refuses it as stale.
import { readFileSync } from "node:fs";
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import type { ReconcileReport } from "../report/json.js";
import { example, type Finish } from "./options.js";
import { runOptions } from "./reconcile.js";
import type { RunFlags } from "./run-engine.js";

export function defineApply(program: Command, finish: Finish): void {
  runOptions(
    program
      .command("apply")
      .description("apply a plan saved by reconcile --dry-run --out; refused when the nodes changed since")
      .argument("<plan>", "the saved plan (JSON)")
      .option("-f, --file <path>", "the manifest (default: the one the plan was made from)"),
  )
    .addHelpText(
      "after",
      example("picotrader reconcile --dry-run --out plan.json", "picotrader apply plan.json"),
    )
    .action(async (planFile: string, flags: Omit<RunFlags, "file"> & { file?: string }) => {
      let saved: ReconcileReport;
      try {
        saved = JSON.parse(readFileSync(planFile, "utf8")) as ReconcileReport;
      } catch (err) {
        throw new PicoError(`${planFile}: not a saved plan: ${(err as Error).message}`);
      }
      if (saved.saved === undefined)
        throw new PicoError(
          `${planFile}: not a saved plan (make one with reconcile --dry-run --out ${planFile})`,
        );
      const { runEngine } = await import("./run-engine.js");
      finish(
        await runEngine(
          { ...flags, file: flags.file ?? saved.saved.manifest },
          {
            apply: true,
            allowRebuild: saved.saved.allowRebuild,
            ...(saved.saved.only ? { only: saved.saved.only } : {}),
            saved: saved.plan,
            yes: true,
          },
        ),
      );
    });
}
