// `picotrader facts [NODE...]`: what each node looks like now, as JSON.
import type { Command } from "commander";
import {
  connectionOptions,
  example,
  fileOption,
  openTransport,
  type ConnectionFlags,
  type Finish,
} from "./options.js";

export function defineFacts(program: Command, finish: Finish): void {
  connectionOptions(
    program
      .command("facts")
      .description("the observed facts of each node, as JSON")
      .argument("[nodes...]", "only these nodes (default: all)")
      .addOption(fileOption()),
  )
    .addHelpText("after", example("picotrader facts node1 | jq .facts.sshd"))
    .action(async (names: string[], flags: ConnectionFlags & { file: string }) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { readInputs } = await import("../manifest/inputs.js");
      const { selectNodes } = await import("../engine/planner.js");
      const { observeNode } = await import("../engine/observe.js");
      const { reconcilers } = await import("../../reconcilers/index.js");
      const m = loadManifest(flags.file);
      const inputs = readInputs(m, flags.file, process.env);
      const transport = await openTransport(m, flags);
      const out: Record<string, unknown> = {};
      let code = 0;
      for (const node of selectNodes(m, names.length > 0 ? names : undefined)) {
        try {
          const session = await transport.connect(node);
          try {
            out[node.name] = {
              identity: session.identity,
              ...(await observeNode(session, node, m, reconcilers, inputs)),
            };
          } finally {
            await session.close();
          }
        } catch (err) {
          out[node.name] = { error: (err as Error).message };
          code = 1;
        }
      }
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
      finish(code);
    });
}
