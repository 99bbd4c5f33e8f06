// Reboots a node over its session and waits for the new boot: shared by the engine (changes whose
// steps end with a reboot) and the fleet commands.
import type { Session, Transport } from "../transport/session.js";

/** Prints what identifies one boot of a node: the kernel's boot id and PID 1's start time. */
export const BOOT_MARK = "echo \"$(cat /proc/sys/kernel/random/boot_id) $(cut -d' ' -f22 /proc/1/stat)\"";

/** Detached and delayed, so that the command returns before the connection goes down. */
export function buildPowerCommand(verb: "reboot" | "poweroff"): string {
  return `nohup sh -c 'sleep 1; systemctl ${verb}' >/dev/null 2>&1 &`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Polls until a login works and its boot mark differs from `before`; returns that session (open),
 * or undefined after `timeoutMs`. For a `reimaged` node the old host key is forgotten and the new
 * one learned.
 */
export async function waitForNewBoot(
  transport: Transport,
  node: { name: string; address: string; sshPort?: number },
  before: string,
  timeoutMs: number,
  reimaged = false,
): Promise<Session | undefined> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    await sleep(1000);
    // A re-imaged node may show its old key once more while it goes down (a login that then
    // fails): every attempt until the new boot learns afresh, so no stale key binds the new one.
    if (reimaged) transport.forgetHostKey?.(node);
    const session = await transport.connect(node).catch(() => undefined);
    if (!session) continue;
    const mark = await session.exec(BOOT_MARK).then(
      (r) => r.stdout.trim(),
      () => "",
    );
    if (mark !== "" && mark !== before) return session;
    await session.close();
  }
  return undefined;
}

/** Reboots the node and returns a session on its new boot; throws when it is not back in time. */
export async function rebootAndReconnect(
  session: Session,
  transport: Transport,
  node: { name: string; address: string; sshPort?: number },
  timeoutMs: number,
  reimaged = false,
): Promise<Session> {
  const before = (await session.exec(BOOT_MARK)).stdout.trim();
  const r = await session.exec(buildPowerCommand("reboot"));
  if (r.exitCode !== 0) throw new Error(`systemctl reboot failed (exit ${r.exitCode}): ${r.stderr.trim()}`);
  await session.close();
  if (reimaged) transport.forgetHostKey?.(node);
  const next = await waitForNewBoot(transport, node, before, timeoutMs, reimaged);
  if (!next) throw new Error(`${node.name} did not come back within ${timeoutMs / 1000} s of the reboot`);
  return next;
}
