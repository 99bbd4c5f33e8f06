// `picotrader exec -- CMD`: a command as root on every node, in parallel; output grouped per node.
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

interface ExecFlags extends ConnectionFlags {
  file: string;
  only?: string[];
  concurrency: number;
  json: boolean;
}

export function defineExec(program: Command, finish: Finish): void {
  connectionOptions(
    program
      .command("exec")
      .description("run a command as root on every node, in parallel; exit 1 when it failed on any node")
      .argument("<command...>", "the command (after --)")
      .addOption(fileOption())
      .addOption(onlyOption())
      .addOption(concurrencyOption())
      .option("--json", "the outcomes as JSON", false),
  )
    .addHelpText("after", example("picotrader exec --only node1,node2 -- uptime"))
    .action(async (words: string[], flags: ExecFlags) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { selectNodes } = await import("../engine/planner.js");
      const { execOnNodes, renderExecOutcomes } = await import("../fleet.js");
      const m = loadManifest(flags.file);
      const nodes = selectNodes(m, flags.only);
      const outcomes = await execOnNodes(
        await openTransport(m, flags),
        nodes,
        words.join(" "),
        flags.concurrency,
      );
      process.stdout.write(
        flags.json ? `${JSON.stringify(outcomes, null, 2)}\n` : renderExecOutcomes(outcomes),
      );
      finish(outcomes.every((o) => o.exitCode === 0) ? 0 : 1);
    });
}
