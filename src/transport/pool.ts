// Sessions kept open between the runs of watch mode: a drift check on a converged cluster then
// costs one exec per node, not a handshake, a login and sudo's start. Each run gets a transport that
// hands out a node's kept session once; any other connection in that run (after a reboot, the
// access proof as another user) is made afresh, and a root login is never kept. A session that died
// (keepalives unanswered, the node rebooted) is dropped and replaced by a new login on the next run.
import type { Session, Transport } from "./session.js";

/** A session that can say whether its connection is still open. */
export type PoolableSession = Session & { alive(): boolean };

type NodeRef = { name: string; address: string; sshPort?: number };
const keyOf = (n: NodeRef) => `${n.name}@${n.address}:${n.sshPort ?? 22}`;
const poolable = (s: Session): s is PoolableSession =>
  typeof (s as Partial<PoolableSession>).alive === "function";

export class SessionPool {
  private readonly idle = new Map<string, PoolableSession>();

  /** Connections of later runs reuse these sessions; `reused` counts the reuses, for logs and tests. */
  reused = 0;

  /** The transport of one run over `inner`: kept sessions first, each at most once in the run. */
  forRun(inner: Transport): Transport {
    const handed = new Set<string>();
    const lend = (key: string, s: Session): Session => ({
      node: s.node,
      identity: s.identity,
      stats: s.stats,
      exec: (command, options) => s.exec(command, options),
      ...(s.script ? { script: s.script.bind(s) } : {}),
      // Back to the pool while it lives; a session it replaces is closed. A root login (a node's
      // first contact) is never kept: once root login is off, it would outlive that change.
      close: async () => {
        if (!poolable(s) || !s.alive() || s.user === "root") return s.close();
        const previous = this.idle.get(key);
        this.idle.set(key, s);
        if (previous !== undefined && previous !== s) await previous.close();
      },
    });
    return {
      connect: async (node, as) => {
        if (as) return inner.connect(node, as);
        const key = keyOf(node);
        const kept = this.idle.get(key);
        if (kept !== undefined && !handed.has(key)) {
          handed.add(key);
          this.idle.delete(key);
          if (kept.alive()) {
            this.reused++;
            return lend(key, kept);
          }
          await kept.close();
        }
        handed.add(key);
        return lend(key, await inner.connect(node));
      },
      forgetHostKey: (node) => {
        const key = keyOf(node);
        void this.idle.get(key)?.close();
        this.idle.delete(key);
        inner.forgetHostKey?.(node);
      },
    };
  }

  /** Closes every kept session (watch mode's stop). */
  async closeAll(): Promise<void> {
    const all = [...this.idle.values()];
    this.idle.clear();
    await Promise.all(all.map((s) => s.close()));
  }
}
