// The host's kernel limits a lab needs. Each node's systemd (and its services) holds inotify
// instances, and they all count against root's `fs.inotify.max_user_instances` (128 on Debian): past
// about 16 nodes, systemd in the next node fails with "Failed to create inotify object: Too many
// open files" and never answers SSH. The lab raises the limit for the nodes it runs, says so, and
// puts the host's own value back when its last lab is removed.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** inotify instances one lab node may use (systemd, journald, logind, sshd, dockerd...). */
export const INOTIFY_INSTANCES_PER_NODE = 12;
/** Left for the host's own programs. */
const HOST_RESERVE = 128;

/** What a limit must be for `nodes` lab nodes: never lower than the host had. Pure. */
export function neededInotifyInstances(nodes: number, current: number): number {
  return Math.max(current, HOST_RESERVE + nodes * INOTIFY_INSTANCES_PER_NODE);
}

/** The sysctl files and the record of the host's own values, under the lab's state folder. */
export interface LimitPaths {
  sysctl: string;
  saved: string;
}

export function limitPaths(labRoot: string, procRoot = "/proc/sys"): LimitPaths {
  return {
    sysctl: join(procRoot, "fs", "inotify", "max_user_instances"),
    saved: join(labRoot, "host-limits.json"),
  };
}

/**
 * Raises max_user_instances for `nodes` lab nodes in all; returns the line to tell the user, or
 * undefined when the limit was already enough. The host's value is recorded once, before the first raise.
 */
export function raiseInotifyLimit(paths: LimitPaths, nodes: number): string | undefined {
  const current = Number(readFileSync(paths.sysctl, "utf8").trim());
  const needed = neededInotifyInstances(nodes, current);
  if (needed === current) return undefined;
  if (!existsSync(paths.saved)) {
    // The first lab on a machine: its state folder is not there yet.
    mkdirSync(dirname(paths.saved), { recursive: true });
    writeFileSync(paths.saved, JSON.stringify({ maxUserInstances: current }) + "\n");
  }
  writeFileSync(paths.sysctl, `${needed}\n`);
  return `raised fs.inotify.max_user_instances from ${current} to ${needed} for ${nodes} lab nodes (put back at the last lab down)`;
}

/** Puts the host's own value back (after the last lab); returns what was done, or undefined. */
export function restoreInotifyLimit(paths: LimitPaths): string | undefined {
  if (!existsSync(paths.saved)) return undefined;
  const { maxUserInstances } = JSON.parse(readFileSync(paths.saved, "utf8")) as { maxUserInstances: number };
  writeFileSync(paths.sysctl, `${maxUserInstances}\n`);
  rmSync(paths.saved);
  return `fs.inotify.max_user_instances is ${maxUserInstances} again`;
}
