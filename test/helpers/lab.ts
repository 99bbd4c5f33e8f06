// Helpers for tests that boot a lab. A lab test file calls useLab() once; its nodes are shared by
// the file's tests and removed when the file ends, also when a test fails.
import { existsSync } from "node:fs";
import { join } from "node:path";
import type { Test } from "tap";
import { labDown, labSshArgv, labRunArgv, labUp, readLab, type LabState } from "../../src/lab/lab.js";
import { BOOT_MARK } from "../../src/engine/reboot.js";
import { packageRoot } from "../../src/paths.js";
import { shellQuote } from "../../src/transport/quote.js";
import { run, type RunResult } from "../../src/util/run.js";

/** Why lab tests cannot run here (the missing piece), or undefined when they can. */
export function labUnavailable(): string | undefined {
  if (process.platform !== "linux") return "the lab needs Linux";
  if (process.getuid?.() !== 0) return "the lab needs root (run the tests with sudo)";
  const missing = ["systemd-nspawn", "ip", "nsenter", "ssh"].filter(
    (tool) => !["/usr/bin", "/usr/sbin", "/bin", "/sbin"].some((d) => existsSync(join(d, tool))),
  );
  return missing.length > 0
    ? `the lab needs ${missing.join(", ")} (scripts/setup.sh installs them)`
    : undefined;
}

/**
 * Boots a lab for this test file and tears it down at the end. Where the lab cannot run, the file
 * fails, naming the missing piece: a lab test is never skipped.
 */
export async function useLab(
  t: Test,
  name: string,
  nodes: number,
  options: Parameters<typeof labUp>[3] = {},
): Promise<LabState | undefined> {
  const why = labUnavailable();
  if (why) {
    t.fail(`lab tests cannot run: ${why}`);
    return undefined;
  }
  if (readLab(name)) await labDown(name);
  t.teardown(async () => {
    if (readLab(name)) await labDown(name);
  });
  return labUp(name, nodes, () => {}, options);
}

/** Runs a command on a node over real SSH as `user` with the lab key. */
export function sshNode(lab: LabState, node: string, command: string, user = "root"): Promise<RunResult> {
  const [file, ...args] = labSshArgv(lab, node, [command], user);
  return run(file as string, args);
}

/** Runs a command as root through the admin user (`sysman`, lab key, sudo): for converged nodes. */
export function sshAdmin(lab: LabState, node: string, command: string): Promise<RunResult> {
  return sshNode(lab, node, `sudo -n sh -c ${shellQuote(command)}`, "sysman");
}

/** Runs a command inside the lab's network namespace with the lab's environment. */
export function inLab(lab: LabState, argv: string[], input?: string): Promise<RunResult> {
  const [file, ...args] = labRunArgv(lab, argv);
  return run(file as string, args, input === undefined ? {} : { input });
}

/** Runs the built CLI (dist/) inside the lab, as an operator would; `env` adds variables. */
export function picotrader(
  lab: LabState,
  args: string[],
  env: Record<string, string> = {},
): Promise<RunResult> {
  const vars = Object.entries(env).map(([k, v]) => `${k}=${v}`);
  return inLab(lab, ["env", ...vars, "node", join(packageRoot(), "dist", "bin", "picotrader.js"), ...args]);
}

/** What identifies a node's current boot (see BOOT_MARK): it changes when the node reboots. */
export async function bootMark(lab: LabState, node: string): Promise<string> {
  return (await sshAdmin(lab, node, BOOT_MARK)).stdout.trim();
}

/** Waits `ms` milliseconds. */
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls `what` every `everyMs` until `ok` holds or `timeoutMs` has passed; returns the last value,
 * which the caller asserts on (a timeout is then a failing assertion with the value seen).
 */
export async function eventually<T>(
  what: () => Promise<T>,
  ok: (v: T) => boolean,
  timeoutMs: number,
  everyMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let value = await what();
  while (!ok(value) && Date.now() < deadline) {
    await sleep(everyMs);
    value = await what();
  }
  return value;
}
