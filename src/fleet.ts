// Fleet commands, the "useful commands" of the old playbooks: run a command on every node, and
// reboot or shut every node down one at a time. They act on the nodes; they reconcile nothing.
import { mapLimit } from "./util/run.js";
import { BOOT_MARK, buildPowerCommand, waitForNewBoot } from "./engine/reboot.js";
import { gateVirtualIp, VIP_TIMEOUT_MS } from "./engine/rolling.js";
import type { Manifest, NodeSpec } from "./manifest/types.generated.js";
import type { Session, Transport } from "./transport/session.js";

/** What one node answered to `exec`; `error` when it could not be reached. */
export interface ExecOutcome {
  node: string;
  exitCode?: number;
  stdout?: string;
  stderr?: string;
  error?: string;
}

/** The outputs grouped per node, each under a header with its exit code. Pure. */
export function renderExecOutcomes(outcomes: ExecOutcome[]): string {
  return outcomes
    .map((o) => {
      if (o.error !== undefined) return `== ${o.node}: unreachable: ${o.error}\n`;
      const body = [o.stdout ?? "", o.stderr ? `-- stderr\n${o.stderr}` : ""]
        .filter(Boolean)
        .map((t) => (t.endsWith("\n") ? t : `${t}\n`))
        .join("");
      return `== ${o.node} (exit ${o.exitCode})\n${body}`;
    })
    .join("");
}

/** Runs `command` as root on every node, in parallel (bounded). */
export async function execOnNodes(
  transport: Transport,
  nodes: NodeSpec[],
  command: string,
  concurrency: number,
): Promise<ExecOutcome[]> {
  return mapLimit(nodes, concurrency, async (node): Promise<ExecOutcome> => {
    let session: Session | undefined;
    try {
      session = await transport.connect(node);
      const r = await session.exec(command);
      return { node: node.name, exitCode: r.exitCode, stdout: r.stdout, stderr: r.stderr };
    } catch (err) {
      return { node: node.name, error: (err as Error).message };
    } finally {
      await session?.close();
    }
  });
}

/** How a rolling reboot or shutdown went on one node. */
export interface PowerOutcome {
  node: string;
  ok: boolean;
  message: string;
}

export interface PowerOptions {
  transport: Transport;
  manifest: Manifest;
  nodes: NodeSpec[];
  action: "reboot" | "shutdown";
  /** How long a node may take to go down and (for a reboot) to come back. */
  timeoutMs: number;
  onProgress?: (node: string, message: string) => void;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls until the node no longer accepts a login. */
async function waitForDown(o: PowerOptions, node: NodeSpec): Promise<boolean> {
  const deadline = Date.now() + o.timeoutMs;
  while (Date.now() < deadline) {
    const session = await o.transport.connect(node).catch(() => undefined);
    if (!session) return true;
    await session.close();
    await sleep(1000);
  }
  return false;
}

/**
 * Reboots (or shuts down) the nodes one at a time, in manifest order: the next node starts only when
 * this one is back (a new boot answers a login) and, where keepalived runs, exactly one node holds
 * the virtual IP. A node that cannot be reached is named and skipped; the others are done.
 */
export async function powerCycle(o: PowerOptions): Promise<PowerOutcome[]> {
  const outcomes: PowerOutcome[] = [];
  for (const node of o.nodes) {
    let session: Session | undefined;
    try {
      session = await o.transport.connect(node);
    } catch (err) {
      outcomes.push({
        node: node.name,
        ok: false,
        message: `unreachable, left alone: ${(err as Error).message}`,
      });
      continue;
    }
    const before = (await session.exec(BOOT_MARK)).stdout.trim();
    const verb = o.action === "reboot" ? "reboot" : "poweroff";
    const r = await session.exec(buildPowerCommand(verb));
    await session.close();
    if (r.exitCode !== 0) {
      outcomes.push({
        node: node.name,
        ok: false,
        message: `systemctl ${verb} failed (exit ${r.exitCode}): ${r.stderr.trim()}`,
      });
      continue;
    }
    o.onProgress?.(node.name, `${verb} requested`);
    const started = Date.now();
    if (o.action === "shutdown") {
      const down = await waitForDown(o, node);
      outcomes.push({
        node: node.name,
        ok: down,
        message: down
          ? `off after ${((Date.now() - started) / 1000).toFixed(1)} s`
          : `still answering after ${o.timeoutMs / 1000} s`,
      });
      continue;
    }
    const back = await waitForNewBoot(o.transport, node, before, o.timeoutMs);
    await back?.close();
    if (back === undefined) {
      outcomes.push({
        node: node.name,
        ok: false,
        message: `did not come back within ${o.timeoutMs / 1000} s; stopping here`,
      });
      break;
    }
    const took = `back after ${((Date.now() - started) / 1000).toFixed(1)} s`;
    const gate = await gateAfterReboot(o, node);
    outcomes.push({
      node: node.name,
      ok: gate === undefined,
      message: gate === undefined ? took : `${took}, but ${gate}`,
    });
    if (gate !== undefined) break;
  }
  const done = new Set(outcomes.map((x) => x.node));
  for (const node of o.nodes.filter((n) => !done.has(n.name)))
    outcomes.push({
      node: node.name,
      ok: false,
      message: "not done: the rolling " + o.action + " stopped earlier",
    });
  return outcomes;
}

/** After a control-plane node's reboot: the rolling gate (exactly one holder of the virtual IP). */
async function gateAfterReboot(o: PowerOptions, node: NodeSpec): Promise<string | undefined> {
  if (!node.roles.includes("control-plane")) return undefined;
  const planes = o.manifest.nodes.filter((n) => n.roles.includes("control-plane"));
  const sessions = (
    await Promise.all(planes.map((n) => o.transport.connect(n).catch(() => undefined)))
  ).filter((s): s is Session => s !== undefined);
  try {
    return await gateVirtualIp(o.manifest, sessions, node.name, VIP_TIMEOUT_MS, o.onProgress);
  } finally {
    await Promise.all(sessions.map((s) => s.close()));
  }
}
