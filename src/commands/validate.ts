// `picotrader validate [FILE]`: the schema and the rules, every problem at once.
import type { Command } from "commander";
import { example, type Finish } from "./options.js";

export function defineValidate(program: Command, finish: Finish): void {
  program
    .command("validate")
    .description("check the manifest: the schema and the rules, every problem as file:line:col")
    .argument("[file]", "the manifest (or -f)")
    .option("-f, --file <path>", "the manifest", "cluster.yaml")
    .addHelpText("after", example("picotrader validate cluster.yaml"))
    .action(async (positional: string | undefined, flags: { file: string }) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const file = positional ?? flags.file;
      const m = loadManifest(file);
      process.stdout.write(`${file}: valid (${m.nodes.length} nodes)\n`);
      finish(0);
    });
}
