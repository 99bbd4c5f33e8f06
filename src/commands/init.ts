// `picotrader init`: writes a commented cluster.yaml for the user's boards, from flags or questions.
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";
import type { Command } from "commander";
import { PicoError } from "../errors.js";
import { example, integerAtLeast, type Finish } from "./options.js";

interface InitFlags {
  out: string;
  force: boolean;
  name: string;
  subnet?: string;
  virtualIp?: string;
  workstation?: string;
  adminUser: string;
  adminKey?: string;
  node: string[];
  controlPlanes: number;
}

/** The first public key of the agent, else of ~/.ssh/id_ed25519.pub, id_ecdsa.pub, id_rsa.pub. */
async function findAdminKey(): Promise<string | undefined> {
  const { run } = await import("../util/run.js");
  if (process.env.SSH_AUTH_SOCK) {
    const r = await run("ssh-add", ["-L"]).catch(() => undefined);
    const first = r?.exitCode === 0 ? r.stdout.split("\n")[0]?.trim() : undefined;
    if (first) return first;
  }
  for (const f of ["id_ed25519.pub", "id_ecdsa.pub", "id_rsa.pub"].map((n) => join(homedir(), ".ssh", n)))
    if (existsSync(f)) return readFileSync(f, "utf8").trim();
  return undefined;
}

export function defineInit(program: Command, finish: Finish): void {
  program
    .command("init")
    .description("write a commented cluster.yaml for your boards, from flags or questions on a terminal")
    .option("-o, --out <file>", "where to write it", "cluster.yaml")
    .option("--force", "overwrite the file when it exists", false)
    .option("--name <name>", "the cluster's name", "picocluster")
    .option("--subnet <cidr>", "the boards' subnet (192.168.0.0/24)")
    .option("--virtual-ip <address>", "the Kubernetes API's address, free in the subnet")
    .option("--workstation <address>", "the address of the machine PicoTrader runs on")
    .option("--admin-user <name>", "the admin user made on every node", "sysman")
    .option(
      "--admin-key <key>",
      "its SSH public key (default: the agent's first, else ~/.ssh/id_ed25519.pub...)",
    )
    .option(
      "--node <name=address>",
      "a board (repeatable, in order)",
      (v: string, prev: string[] = []) => [...prev, v],
      [] as string[],
    )
    .option(
      "--control-planes <n>",
      "how many of the first nodes are control-plane nodes",
      integerAtLeast(0),
      2,
    )
    .addHelpText(
      "after",
      example(
        "picotrader init --subnet 192.168.0.0/24 --virtual-ip 192.168.0.200 --workstation 192.168.0.10 \\\n      --node c2-master1=192.168.0.201 --node c2-master2=192.168.0.202 --node c2-worker1=192.168.0.203",
      ),
    )
    .action(async (flags: InitFlags) => {
      const { buildInitManifest, hostInSubnet, installedSchemaPath } = await import("../init.js");
      const { parseManifestSource } = await import("../manifest/load.js");
      const { validateManifest } = await import("../manifest/validate.js");
      const { ManifestError } = await import("../errors.js");
      const { ask } = await import("../prompt.js");
      if (existsSync(flags.out) && !flags.force)
        throw new PicoError(`${flags.out} exists: pass --force to overwrite it, or -o another file`);
      const tty = process.stdin.isTTY === true;
      const need = async (value: string | undefined, flag: string, question: string, suggestion?: string) => {
        if (value !== undefined) return value;
        if (!tty) throw new PicoError(`init: no ${flag} (give it, or run init on a terminal to be asked)`);
        const answer = (await ask(`${question}${suggestion ? ` [${suggestion}]` : ""}: `)).trim();
        if (answer === "" && suggestion !== undefined) return suggestion;
        if (answer === "") throw new PicoError(`init: no ${flag} given`);
        return answer;
      };
      const subnet = await need(flags.subnet, "--subnet", "The boards' subnet", "192.168.0.0/24");
      let nodeSpecs = flags.node;
      if (nodeSpecs.length === 0) {
        const count = Number(await need(undefined, "--node", "How many boards", "4"));
        nodeSpecs = [];
        for (let i = 1; i <= count; i++)
          nodeSpecs.push(
            `${await need(undefined, "--node", `Board ${i}: name`, `node${i}`)}=${await need(undefined, "--node", `Board ${i}: address`, hostInSubnet(subnet, 200 + i))}`,
          );
      }
      const nodes = nodeSpecs.map((spec, i) => {
        const [name, address, ...rest] = spec.split("=");
        if (!name || !address || rest.length > 0)
          throw new PicoError(`--node takes NAME=ADDRESS, not "${spec}"`);
        return { name, address, roles: [i < flags.controlPlanes ? "control-plane" : "worker"] };
      });
      const answers = {
        name: flags.name,
        subnet,
        virtualIp: await need(
          flags.virtualIp,
          "--virtual-ip",
          "The Kubernetes API's virtual IP",
          hostInSubnet(subnet, 200),
        ),
        workstation: await need(
          flags.workstation,
          "--workstation",
          "This machine's address",
          hostInSubnet(subnet, 10),
        ),
        adminUser: flags.adminUser,
        adminKey:
          flags.adminKey ??
          (await findAdminKey()) ??
          (await need(undefined, "--admin-key", "The admin's SSH public key (ssh-ed25519 AAAA...)")),
        nodes,
      };
      const text = buildInitManifest(answers, installedSchemaPath());
      // What init writes validates, or nothing is written.
      const diagnostics = validateManifest(parseManifestSource(text, flags.out));
      if (diagnostics.length > 0) throw new ManifestError(diagnostics);
      writeFileSync(`${flags.out}.tmp`, text, { mode: 0o644 });
      renameSync(`${flags.out}.tmp`, flags.out);
      process.stdout.write(
        `wrote ${flags.out} (${nodes.length} nodes). Next: picotrader trust -f ${flags.out}, then picotrader reconcile -f ${flags.out} --dry-run\n`,
      );
      finish(0);
    });
}
