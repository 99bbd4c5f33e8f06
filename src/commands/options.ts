// The options several commands share, defined and parsed once: the manifest file, the nodes to work
// on, how many at once, the dead-man timer, and how to trust and reach the nodes over SSH.
import { InvalidArgumentError, Option, type Command } from "commander";
import type { Manifest } from "../manifest/types.generated.js";
import type { SshTransport } from "../transport/ssh.js";

/** Receives a command's exit code; cli.ts is the only place that turns it into the process's. */
export type Finish = (code: number) => void;

/** A parser for an integer option of at least `min` ("8", not "8x", "-1" or "1.5"). */
export function integerAtLeast(min: number): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text.trim()) || Number(text) < min)
      throw new InvalidArgumentError(`It must be a whole number of at least ${min}.`);
    return Number(text);
  };
}

/** "node1, node2" -> ["node1", "node2"]; an empty list is an error. */
export function parseNodeList(text: string): string[] {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError("It must name at least one node (NODE,NODE...).");
  return names;
}

/** Collects a repeatable option's values. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, value];
}

/** `-f, --file`: the manifest. */
export function fileOption(): Option {
  return new Option("-f, --file <path>", "the manifest").default("cluster.yaml");
}

/** `--only NODE,...`: the nodes to work on (default all). */
export function onlyOption(): Option {
  return new Option("--only <nodes>", "only these nodes, comma-separated (default: all)").argParser(
    parseNodeList,
  );
}

/** `--concurrency N`: nodes at once. */
export function concurrencyOption(): Option {
  return new Option("--concurrency <n>", "nodes worked on at once").argParser(integerAtLeast(1)).default(8);
}

/** `--deadman-seconds N`: how long access changes may go unproven before the node restores them. */
export function deadmanOption(): Option {
  return new Option(
    "--deadman-seconds <n>",
    "seconds after which a node restores its access settings if the new ones were not proven",
  )
    .argParser(integerAtLeast(5))
    .default(120);
}

/** The flags of connectionOptions(). */
export interface ConnectionFlags {
  acceptNewHostKeys: boolean;
  hostFingerprint: string[];
}

/** How to trust and reach the nodes: the same on every command that connects. */
export function connectionOptions(cmd: Command): Command {
  return cmd
    .addOption(
      new Option(
        "--accept-new-host-keys",
        "pin the host key of a node known_hosts does not list yet, once a login on it worked (a changed key is always an error)",
      ).default(false),
    )
    .addOption(
      new Option(
        "--host-fingerprint <node=SHA256:...>",
        "a host key you checked on the node's console: the bootstrap password may go to it (repeatable)",
      )
        .argParser(collect)
        .default([]),
    );
}

/**
 * Makes the SSH transport for a manifest's nodes with the command line's trust; `prompt` asks the
 * bootstrap password when the environment has none (absent: no password is asked).
 */
export async function transportFactory(
  flags: ConnectionFlags,
  prompt?: () => Promise<string>,
): Promise<(m: Manifest) => SshTransport> {
  const { SshTransport, sshOptionsFromEnv } = await import("../transport/ssh.js");
  const { readHostTrust } = await import("../trust.js");
  return (m) =>
    new SshTransport(
      sshOptionsFromEnv(
        m.admin.user,
        flags.acceptNewHostKeys,
        prompt,
        readHostTrust(m, flags.hostFingerprint),
      ),
    );
}

/** The SSH transport for `m`'s nodes: transportFactory() applied once. */
export async function openTransport(
  m: Manifest,
  flags: ConnectionFlags,
  prompt?: () => Promise<string>,
): Promise<SshTransport> {
  return (await transportFactory(flags, prompt))(m);
}

/** Asks for the bootstrap password of factory-fresh nodes. */
export async function promptBootstrapPassword(): Promise<string> {
  const { promptSecret } = await import("../prompt.js");
  return promptSecret("root password of factory-fresh nodes (PICOTRADER_BOOTSTRAP_PASSWORD): ");
}

/** Help text: one example per command, as `--help` prints it. */
export function example(...lines: string[]): string {
  return `\nExample:\n${lines.map((l) => `  $ ${l}`).join("\n")}\n`;
}
