// `picotrader install-service`: the controller as a hardened systemd service, run by its own user.
import type { Command } from "commander";
import { example, fileOption, type Finish } from "./options.js";

interface InstallFlags {
  file: string;
  user: string;
  unitDir: string;
  interval: string;
}

export function defineInstallService(program: Command, finish: Finish): void {
  program
    .command("install-service")
    .description("install the controller (watch) as a hardened systemd service run by its own user")
    .addOption(fileOption())
    .option(
      "--user <name>",
      "the service's user, made when missing (its home holds the SSH key and known_hosts)",
      "picotrader",
    )
    .option("--unit-dir <dir>", "where the unit is written", "/etc/systemd/system")
    .option("--interval <duration>", "watch's interval: how often drift is looked for and repaired", "5m")
    .addHelpText(
      "after",
      example(
        "sudo -u picotrader git clone https://git.example/cluster.git /var/lib/picotrader-controller/cluster",
        "sudo picotrader install-service -f /var/lib/picotrader-controller/cluster/cluster.yaml",
      ),
    )
    .action(async (flags: InstallFlags) => {
      const { installService } = await import("../service.js");
      const { parseInterval } = await import("../controller/watch.js");
      parseInterval(flags.interval);
      process.stdout.write(await installService(flags.file, flags.user, flags.unitDir, flags.interval));
      finish(0);
    });
}
