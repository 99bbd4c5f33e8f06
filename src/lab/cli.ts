import { spawn } from "node:child_process";
import { parseArgs } from "node:util";
import { LabError } from "../errors.js";
import { ensureImage } from "./image.js";
import * as lab from "./lab.js";

/** `picotrader lab ...`: returns the exit code; output goes to stdout/stderr. */
export async function labCommand(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const { values, positionals } = parseArgs({
    args: rest,
    allowPositionals: true,
    options: {
      name: { type: "string", default: process.env.PICOTRADER_LAB ?? "lab" },
      nodes: { type: "string", default: "3" },
      json: { type: "boolean", default: false },
      user: { type: "string", default: "root" },
    },
  });
  const name = values.name;
  const say = (line: string) => process.stderr.write(`${line}\n`);
  switch (verb) {
    case "up": {
      const started = Date.now();
      const state = await lab.labUp(name, Number(values.nodes), say);
      say(
        `lab ${name}: ${state.nodes.length} nodes answer SSH (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      );
      for (const n of state.nodes) say(`  ${n.name}  ${n.address}`);
      say(
        `next: picotrader lab manifest --name ${name} > lab.yaml && picotrader lab run --name ${name} -- picotrader reconcile -f lab.yaml --yes`,
      );
      return 0;
    }
    case "image": {
      lab.assertLabHost();
      const image = await ensureImage(say);
      say(`lab image ${image.recipe}: ${image.dir}`);
      return 0;
    }
    case "down":
      await lab.labDown(name);
      say(`lab ${name} removed`);
      return 0;
    case "status": {
      const names = lab.readLab(name) ? [name] : [];
      if (names.length === 0 && !values.json) {
        say(`no lab named ${name}; labs here: ${lab.listLabs().join(", ") || "none"}`);
        return 1;
      }
      const { lab: state, nodes } = await lab.labStatus(name);
      if (values.json) {
        process.stdout.write(
          JSON.stringify(
            {
              name: state.name,
              netns: state.netns,
              subnet: state.subnet,
              virtualIp: state.virtualIp,
              keyPath: state.keyPath,
              knownHostsPath: state.knownHostsPath,
              nodes: nodes.map((n) => ({
                name: n.name,
                address: n.address,
                sshPort: n.sshPort,
                state: n.state,
                ssh: n.ssh,
                memoryBytes: n.memoryBytes,
                keyPath: state.keyPath,
                knownHostsPath: state.knownHostsPath,
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
            `${n.name.padEnd(8)} ${n.address.padEnd(12)} ${n.state.padEnd(8)} ssh:${n.ssh ? "yes" : "no"}${mem}\n`,
          );
        }
      }
      return 0;
    }
    case "reset":
    case "start":
    case "stop": {
      const node = positionals[0];
      if (!node) throw new LabError(`usage: picotrader lab ${verb} NODE [--name LAB]`);
      await { reset: lab.labReset, start: lab.labStart, stop: lab.labStop }[verb](name, node);
      say(
        `lab ${name}: ${node} ${verb === "reset" ? "is factory-fresh again" : verb === "start" ? "is on" : "is off"}`,
      );
      return 0;
    }
    case "ssh": {
      const [node, ...command] = positionals;
      if (!node) throw new LabError("usage: picotrader lab ssh NODE [--name LAB] [-- CMD...]");
      return passthrough(lab.labSshArgv(lab.requireLab(name), node, command, values.user));
    }
    case "run": {
      if (positionals.length === 0) throw new LabError("usage: picotrader lab run [--name LAB] -- CMD...");
      lab.assertLabHost();
      return passthrough(lab.labRunArgv(lab.requireLab(name), positionals));
    }
    case "manifest":
      process.stdout.write(lab.labManifest(lab.requireLab(name)));
      return 0;
    case "list":
      process.stdout.write(
        lab
          .listLabs()
          .map((l) => `${l}\n`)
          .join(""),
      );
      return 0;
    default:
      throw new LabError(
        `unknown lab command "${verb ?? ""}": use image, up, down, status, reset, start, stop, ssh, run, manifest, list`,
      );
  }
}

function passthrough(argv: string[]): Promise<number> {
  const [file, ...args] = argv;
  return new Promise((resolve, reject) => {
    const child = spawn(file as string, args, { stdio: "inherit" });
    child.on("error", reject);
    child.on("close", (code, signal) => resolve(code ?? (signal ? 128 : 1)));
  });
}
