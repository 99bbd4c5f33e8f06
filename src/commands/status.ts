// `picotrader status`: per node, reachable, generation, commit applied, pending changes.
import type { Command } from "commander";
import {
  concurrencyOption,
  connectionOptions,
  example,
  fileOption,
  onlyOption,
  openTransport,
  type ConnectionFlags,
  type Finish,
} from "./options.js";

interface StatusFlags extends ConnectionFlags {
  file: string;
  json: boolean;
  only?: string[];
  concurrency: number;
}

export function defineStatus(program: Command, finish: Finish): void {
  connectionOptions(
    program
      .command("status")
      .description("per node: reachable, generation, commit applied, pending changes, last error")
      .addOption(fileOption())
      .option("--json", "as JSON, with conditions (Reachable, Converged, Applied)", false)
      .addOption(onlyOption())
      .addOption(concurrencyOption()),
  )
    .addHelpText("after", example("picotrader status --json"))
    .action(async (flags: StatusFlags) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { readInputs } = await import("../manifest/inputs.js");
      const { dryRun, exitCodeFor } = await import("../engine/reconcile.js");
      const { buildStatus, renderStatusText } = await import("../report/status.js");
      const { reconcilers } = await import("../../reconcilers/index.js");
      const m = loadManifest(flags.file);
      const { plan, results } = await dryRun({
        transport: await openTransport(m, flags),
        manifest: m,
        inputs: readInputs(m, flags.file, process.env),
        reconcilers,
        ...(flags.only ? { only: flags.only } : {}),
        concurrency: flags.concurrency,
      });
      const status = buildStatus(plan, results);
      process.stdout.write(
        flags.json
          ? JSON.stringify({ cluster: plan.cluster, nodes: status }, null, 2) + "\n"
          : renderStatusText(status),
      );
      finish(exitCodeFor(results, false));
    });
}
