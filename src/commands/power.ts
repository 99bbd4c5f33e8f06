// `picotrader reboot` and `picotrader shutdown`: one node at a time, each back (or off) before the next.
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import {
  connectionOptions,
  example,
  fileOption,
  integerAtLeast,
  onlyOption,
  openTransport,
  type ConnectionFlags,
  type Finish,
} from "./options.js";

interface PowerFlags extends ConnectionFlags {
  file: string;
  only?: string[];
  yes: boolean;
  json: boolean;
  timeout: number;
}

export function definePower(program: Command, finish: Finish, action: "reboot" | "shutdown"): void {
  connectionOptions(
    program
      .command(action)
      .description(
        action === "reboot"
          ? "reboot the nodes one at a time, each back (and the virtual IP held once) before the next"
          : "power the nodes off one at a time, each off before the next",
      )
      .addOption(fileOption())
      .addOption(onlyOption())
      .option("--yes", "do it without asking (needed where there is no terminal)", false)
      .option("--json", "the outcomes as JSON", false)
      .option(
        "--timeout <seconds>",
        `how long a node may take to go down${action === "reboot" ? " and come back" : ""}`,
        integerAtLeast(1),
        300,
      ),
  )
    .addHelpText("after", example(`picotrader ${action} --only node2 --yes`))
    .action(async (flags: PowerFlags) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { selectNodes } = await import("../engine/planner.js");
      const { powerCycle } = await import("../fleet.js");
      const { confirm } = await import("../prompt.js");
      const m = loadManifest(flags.file);
      const nodes = selectNodes(m, flags.only);
      const names = nodes.map((n) => n.name).join(", ");
      if (!flags.yes && !(await confirm(`${action} ${names}, one at a time?`)))
        throw new PicoError(`${action} not confirmed (on a terminal answer y, elsewhere pass --yes)`);
      const outcomes = await powerCycle({
        transport: await openTransport(m, flags),
        manifest: m,
        nodes,
        action,
        timeoutMs: flags.timeout * 1000,
        onProgress: (node, message) => process.stderr.write(`[${node}] ${message}\n`),
      });
      process.stdout.write(
        flags.json
          ? `${JSON.stringify(outcomes, null, 2)}\n`
          : outcomes.map((o) => `${o.node}: ${o.ok ? "" : "FAILED: "}${o.message}\n`).join(""),
      );
      finish(outcomes.every((o) => o.ok) ? 0 : 1);
    });
}
