// `picotrader watch`: the GitOps controller. Applies the commit the tracked branch points to, on
// every new commit, manifest change and interval (drift repair).
import { resolve } from "node:path";
import type { Command } from "commander";
import {
  concurrencyOption,
  connectionOptions,
  deadmanOption,
  example,
  fileOption,
  transportFactory,
  type ConnectionFlags,
  type Finish,
} from "./options.js";

interface WatchFlags extends ConnectionFlags {
  file: string;
  interval: string;
  fetch: boolean;
  allowDirty: boolean;
  concurrency: number;
  deadmanSeconds: number;
}

export function defineWatch(program: Command, finish: Finish): void {
  connectionOptions(
    program
      .command("watch")
      .description(
        "the GitOps controller: applies the committed manifest on every new commit, and on an interval to repair drift",
      )
      .addOption(fileOption())
      .option("--interval <duration>", "how often to fetch, look for drift and repair it (30s, 5m, 1h)", "5m")
      .option("--no-fetch", "do not fetch the tracked branch from its remote")
      .option("--allow-dirty", "apply the file as saved, uncommitted edits included", false)
      .addOption(concurrencyOption())
      .addOption(deadmanOption()),
  )
    .addHelpText("after", example("picotrader watch -f /srv/cluster/cluster.yaml --interval 5m"))
    .action(async (flags: WatchFlags) => {
      const { loadManifest } = await import("../manifest/validate.js");
      const { parseInterval, WatchController } = await import("../controller/watch.js");
      const { reconcilers } = await import("../../reconcilers/index.js");
      const file = resolve(flags.file);
      const intervalMs = parseInterval(flags.interval);
      loadManifest(file); // refuse to start on an invalid manifest: nothing good to keep yet
      const log = (text: string) =>
        process.stdout.write(
          text
            .split("\n")
            .map((line) => `${new Date().toISOString()} ${line}\n`)
            .join(""),
        );
      const controller = new WatchController({
        file,
        intervalMs,
        fetch: flags.fetch,
        allowDirty: flags.allowDirty,
        transport: await transportFactory(flags),
        reconcilers,
        concurrency: flags.concurrency,
        deadmanSeconds: flags.deadmanSeconds,
        log,
      });
      await controller.start();
      log(
        `watching ${file} (interval ${flags.interval}${flags.fetch ? "" : ", no fetch"}${flags.allowDirty ? ", uncommitted edits applied" : ""})`,
      );
      await new Promise<void>((done) => {
        const stop = (signal: string) => {
          log(`${signal}: finishing the run in flight, then exiting`);
          void controller.stop().then(done);
        };
        process.once("SIGTERM", () => stop("SIGTERM"));
        process.once("SIGINT", () => stop("SIGINT"));
      });
      log("stopped");
      finish(0);
    });
}
