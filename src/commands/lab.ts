// `picotrader lab ...`: the simulated cluster on this machine (root, Linux, systemd-nspawn).
import { spawn } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { InvalidArgumentError, Option, type Command } from "commander";
import { ARCHES, RELEASES, type Arch, type Release } from "../lab/platforms.js";
import { example, integerAtLeast, type Finish } from "./options.js";

/** `--name LAB` of every lab command. */
function nameOption(): Option {
  return new Option("--name <lab>", "the lab's name").default(process.env.PICOTRADER_LAB ?? "lab");
}

/** `--release bookworm,bullseye`: node i runs the i-th release of the list, round and round. */
function releaseOption(): Option {
  return new Option(
    "--release <list>",
    `the Debian release of the nodes (${RELEASES.join(", ")}); a comma list mixes them, node by node`,
  )
    .argParser((value: string): Release[] => {
      const list = value.split(",").map((r) => r.trim());
      const unknown = list.filter((r) => !(RELEASES as readonly string[]).includes(r));
      if (unknown.length > 0 || list.length === 0)
        throw new InvalidArgumentError(`the lab has ${RELEASES.join(", ")}, not ${unknown.join(", ")}`);
      return list as Release[];
    })
    .default(["bookworm"], "bookworm");
}

/** `--arch arm64`: nodes of that architecture, under qemu-user emulation. */
function archOption(): Option {
  return new Option(
    "--arch <arch>",
    "the nodes' CPU architecture (arm64 runs under qemu-user, about ten times slower)",
  )
    .choices(ARCHES)
    .default("amd64");
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** Runs argv with this terminal; resolves with its exit code. */
function passthrough(argv: string[]): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args, { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}

export function defineLab(program: Command, finish: Finish): void {
  const labCmd = program
    .command("lab")
    .description("the simulated cluster: real Debian nodes in network namespaces on this machine (root)")
    .addHelpText("after", example("sudo picotrader lab up --nodes 3", "sudo picotrader lab ssh node1"));
  const lab = () => import("../lab/lab.js");

  labCmd
    .command("image")
    .description("build the lab's base image (cached in /var/cache/picotrader)")
    .addOption(releaseOption())
    .addOption(archOption())
    .action(async (flags: { release: Release[]; arch: Arch }) => {
      const { assertLabHost, LAB_ROOT, listLabs } = await lab();
      const { emulatedBuildInProgress, ensureImage } = await import("../lab/image.js");
      const { ensureArm64Emulation, removeArm64Emulation } = await import("../lab/binfmt.js");
      assertLabHost();
      if (flags.arch === "arm64") {
        const emulation = await ensureArm64Emulation(LAB_ROOT);
        if (emulation) say(emulation);
      }
      try {
        for (const release of new Set(flags.release)) {
          const image = await ensureImage(say, release, flags.arch);
          say(`lab image ${image.recipe} (${release}, ${flags.arch}): ${image.dir}`);
        }
      } finally {
        // Emulation stays only while a lab needs it.
        if (listLabs().length === 0 && !emulatedBuildInProgress()) {
          const undone = await removeArm64Emulation(LAB_ROOT);
          if (undone) say(undone);
        }
      }
      finish(0);
    });

  labCmd
    .command("up")
    .description("boot factory-fresh nodes, each answering SSH")
    .addOption(nameOption())
    .option("--nodes <n>", "how many nodes", integerAtLeast(1), 3)
    .option(
      "--cpu-limit <percent>",
      "cap each node's CPU at this percentage of one core, to stand in for a slower board (the bench's A53 figure: see README)",
      integerAtLeast(1),
    )
    .addOption(releaseOption())
    .addOption(archOption())
    .action(
      async (flags: { name: string; nodes: number; cpuLimit?: number; release: Release[]; arch: Arch }) => {
        const { labUp, releaseOf } = await lab();
        const started = Date.now();
        const state = await labUp(flags.name, flags.nodes, say, {
          releases: flags.release,
          arch: flags.arch,
          ...(flags.cpuLimit === undefined ? {} : { cpuLimit: flags.cpuLimit }),
        });
        say(
          `lab ${flags.name}: ${state.nodes.length} nodes answer SSH (${((Date.now() - started) / 1000).toFixed(1)} s)`,
        );
        for (const n of state.nodes) say(`  ${n.name}  ${n.address}  ${releaseOf(n)}`);
        say(
          `next: picotrader lab manifest --name ${flags.name} > lab.yaml && picotrader lab run --name ${flags.name} -- picotrader reconcile -f lab.yaml --yes`,
        );
        finish(0);
      },
    );

  labCmd
    .command("down")
    .description("power the nodes off and remove the lab")
    .addOption(nameOption())
    .action(async (flags: { name: string }) => {
      await (await lab()).labDown(flags.name);
      say(`lab ${flags.name} removed`);
      finish(0);
    });

  labCmd
    .command("status")
    .description("each node: address, state, SSH, memory")
    .addOption(nameOption())
    .option("--json", "as JSON", false)
    .action(async (flags: { name: string; json: boolean }) => {
      const l = await lab();
      if (!l.readLab(flags.name) && !flags.json) {
        say(`no lab named ${flags.name}; labs here: ${l.listLabs().join(", ") || "none"}`);
        return finish(1);
      }
      const { lab: state, nodes } = await l.labStatus(flags.name);
      if (flags.json) {
        const { netns, subnet, virtualIp, keyPath, knownHostsPath } = state;
        process.stdout.write(
          JSON.stringify(
            {
              name: state.name,
              netns,
              subnet,
              virtualIp,
              keyPath,
              knownHostsPath,
              nodes: nodes.map((n) => ({
                name: n.name,
                release: l.releaseOf(n),
                address: n.address,
                sshPort: n.sshPort,
                state: n.state,
                ssh: n.ssh,
                memoryBytes: n.memoryBytes,
                keyPath,
                knownHostsPath,
              })),
            },
            null,
            2,
          ) + "\n",
        );
      } else {
        for (const n of nodes) {
          const mem = n.memoryBytes === undefined ? "" : `  ${(n.memoryBytes / 2 ** 20).toFixed(0)} MiB`;
          process.stdout.write(
            `${n.name.padEnd(8)} ${n.address.padEnd(12)} ${l.releaseOf(n).padEnd(9)} ${n.state.padEnd(8)} ssh:${n.ssh ? "yes" : "no"}${mem}\n`,
          );
        }
      }
      finish(0);
    });

  for (const [verb, description, done] of [
    ["reset", "return a node to the factory image (wipes what it has)", "is factory-fresh again"],
    ["start", "power a node on", "is on"],
  ] as const) {
    labCmd
      .command(verb)
      .description(description)
      .argument("<node>", "the node")
      .addOption(nameOption())
      .action(async (node: string, flags: { name: string }) => {
        const l = await lab();
        await { reset: l.labReset, start: l.labStart }[verb](flags.name, node);
        say(`lab ${flags.name}: ${node} ${done}`);
        finish(0);
      });
  }

  labCmd
    .command("stop")
    .description("power a node off: cleanly, or with --power-cut as pulling its plug would")
    .argument("<node>", "the node")
    .addOption(nameOption())
    .option("--power-cut", "kill every process of the node at once, with no shutdown")
    .action(async (node: string, flags: { name: string; powerCut?: boolean }) => {
      const l = await lab();
      await l.labStop(flags.name, node, { powerCut: flags.powerCut === true });
      say(`lab ${flags.name}: ${node} is off${flags.powerCut ? " (power cut)" : ""}`);
      finish(0);
    });

  labCmd
    .command("ssh")
    .description("a shell (or a command) on a node, as its admin user once it has one, else as root")
    .argument("<node>", "the node")
    .argument("[command...]", "a command to run instead of a shell (after --)")
    .addOption(nameOption())
    .option("--user <user>", "log in as this user (default: the admin user when the node has it, else root)")
    .action(async (node: string, command: string[], flags: { name: string; user?: string }) => {
      const l = await lab();
      const state = l.requireLab(flags.name);
      const user = flags.user ?? (await l.labLoginUser(state, node));
      finish(await passthrough(l.labSshArgv(state, node, command, user)));
    });

  labCmd
    .command("run")
    .description("run a command inside the lab's network (where the nodes' addresses answer)")
    .argument("<command...>", "the command (after --)")
    .addOption(nameOption())
    .addHelpText("after", example("sudo picotrader lab run -- picotrader reconcile -f lab.yaml --yes"))
    .action(async (command: string[], flags: { name: string }) => {
      const l = await lab();
      l.assertLabHost();
      finish(await passthrough(l.labRunArgv(l.requireLab(flags.name), command)));
    });

  labCmd
    .command("manifest")
    .description("a manifest for the lab that declares everything a user can try, TFTP stand-ins beside it")
    .addOption(nameOption())
    .option("-o, --out <file>", "write it to this file (default: standard output, stand-ins in ./tftp)")
    .addHelpText("after", example("sudo picotrader lab manifest -o lab.yaml"))
    .action(async (flags: { name: string; out?: string }) => {
      const l = await lab();
      const text = l.labManifest(l.requireLab(flags.name));
      // tftp.root is resolved beside the manifest: the stand-ins go there.
      const tftp = l.writeLabTftpStandIns(flags.out ? dirname(resolve(flags.out)) : process.cwd());
      if (flags.out) writeFileSync(flags.out, text);
      else process.stdout.write(text);
      say(`TFTP stand-in files (tftp.root) in ${tftp}${flags.out ? `; wrote ${flags.out}` : ""}`);
      finish(0);
    });

  labCmd
    .command("list")
    .description("the labs on this machine")
    .action(async () => {
      process.stdout.write(
        (await lab())
          .listLabs()
          .map((n) => `${n}\n`)
          .join(""),
      );
      finish(0);
    });
}
