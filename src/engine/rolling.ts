// The rolling rule: changes that may move the virtual IP (a rolling concern's restarts), and reboots
// and rebuilds, are applied one node at a time; the next node starts only when exactly one node
// holds the virtual IP again, so that the API never has no holder (or two) because of us.
import type { Session } from "../transport/session.js";
import { shellQuote } from "../transport/quote.js";
import type { Manifest, NodePlan, Reconciler } from "./types.js";

/** True when the changes this run applies on the node must go in the rolling phase. Pure. */
export function needsRolling(nodePlan: NodePlan, reconcilers: Reconciler[]): boolean {
  const rolling = new Set(reconcilers.filter((r) => r.rolling).map((r) => r.name));
  return nodePlan.changes.some(
    (c) =>
      c.disposition.kind === "apply" &&
      (c.risk === "reboot" || c.risk === "destroy" || (c.risk === "restart" && rolling.has(c.concern))),
  );
}

/** A command printing `held` when the node carries `vip`, else `free`. Pure. */
export function buildVipProbe(vip: string): string {
  return `if ip -o -4 addr show | grep -qF ${shellQuote(` ${vip}/`)}; then echo held; else echo free; fi`;
}

/** Which of the sessions' nodes hold the virtual IP now; a node that does not answer holds nothing. */
export async function readVipHolders(sessions: Session[], vip: string): Promise<string[]> {
  const answers = await Promise.all(
    sessions.map((s) =>
      s.exec(buildVipProbe(vip)).then(
        (r) => (r.stdout.trim() === "held" ? s.node : undefined),
        () => undefined,
      ),
    ),
  );
  return answers.filter((n): n is string => n !== undefined);
}

/**
 * Waits until exactly one of the sessions' nodes holds `vip`. Returns the holder and how long it
 * took, or, after `timeoutMs`, an error saying who held it last.
 */
export async function waitForOneVipHolder(
  sessions: Session[],
  vip: string,
  timeoutMs: number,
): Promise<{ holder: string; waitedMs: number } | { error: string }> {
  const start = Date.now();
  for (;;) {
    const holders = await readVipHolders(sessions, vip);
    const waitedMs = Date.now() - start;
    if (holders.length === 1) return { holder: holders[0] as string, waitedMs };
    if (waitedMs >= timeoutMs)
      return {
        error: `the virtual IP ${vip} was not held by exactly one node within ${timeoutMs / 1000} s (holders: ${holders.join(", ") || "none"})`,
      };
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** How long a rolling apply (or reboot) waits for one holder of the virtual IP after a node. */
export const VIP_TIMEOUT_MS = 30_000;

/**
 * The rolling gate, shared by the engine and the fleet commands: after `after`, waits until exactly
 * one of the control-plane `sessions` holds the manifest's virtual IP. Returns why not, or undefined
 * (also when the manifest keeps no virtual IP).
 */
export async function gateVirtualIp(
  m: Manifest,
  sessions: Session[],
  after: string,
  timeoutMs = VIP_TIMEOUT_MS,
  onProgress?: (node: string, message: string) => void,
): Promise<string | undefined> {
  const vip = m.cluster.virtualIp;
  if (vip === undefined || m.keepalived === undefined) return undefined;
  onProgress?.(after, `waiting for one holder of the virtual IP ${vip}`);
  const gate = await waitForOneVipHolder(sessions, vip, timeoutMs);
  if ("error" in gate) return gate.error;
  onProgress?.(
    after,
    `virtual IP ${vip} held by ${gate.holder} (${(gate.waitedMs / 1000).toFixed(1)} s after the changes)`,
  );
  return undefined;
}
